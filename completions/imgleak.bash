# bash completion for imgleak. The options of each command are read from `imgleak COMMAND
# --help`, so completion follows the help (and the man page made from it).
_imgleak_options() { # _imgleak_options IMGLEAK COMMAND: the options COMMAND takes, one a line
    "$1" "$2" --help 2>/dev/null | sed -n 's/^ \{1,3\}-[a-zA-Z], \(--[-a-zA-Z]*\).*/\1/p; t; s/^ \{1,3\}\(-[-a-zA-Z]*\).*/\1/p' | awk '!seen[$0]++'
}

_imgleak() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]:-} i
    COMPREPLY=()
    if [ "$COMP_CWORD" = 1 ]; then
        COMPREPLY=($(compgen -W "run attach report growth gate diff help --help --version" -- "$cur"))
        return
    fi
    # after run's --: the program and its arguments
    for ((i = 2; i < COMP_CWORD; i++)); do
        if [ "$cmd" = run ] && [ "${COMP_WORDS[i]}" = -- ]; then
            if [ $((i + 1)) = "$COMP_CWORD" ]; then
                COMPREPLY=($(compgen -c -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return
        fi
    done
    case $prev in
    --format) COMPREPLY=($(compgen -W "text json pprof collapsed html" -- "$cur")); return ;;
    --allocator) COMPREPLY=($(compgen -W "glibc jemalloc" -- "$cur")); return ;;
    --peak-snapshots) COMPREPLY=($(compgen -W "off 1.25 2" -- "$cur")); return ;;
    -o) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --sites|--frames|--max-leaked-bytes|--max-leaked-handles|--duration|--interval) return ;;
    esac
    if [ "$cmd" = attach ] && [[ $cur != -* ]]; then # a process id
        COMPREPLY=($(compgen -W "$(ps -e -o pid= 2>/dev/null)" -- "$cur"))
        return
    fi
    case $cur in
    --color=*) COMPREPLY=($(compgen -P --color= -W "auto always never" -- "${cur#--color=}")) ;;
    -*) COMPREPLY=($(compgen -W "$(_imgleak_options "${COMP_WORDS[0]}" "$cmd")" -- "$cur")) ;;
    *) COMPREPLY=($(compgen -f -- "$cur")) ;;
    esac
}
complete -o filenames -F _imgleak imgleak
