/* Files built into imgleak: the default suppressions and the HTML report's page. */
    .section .rodata
    .global imgleak_default_suppressions
    .type imgleak_default_suppressions, @object
imgleak_default_suppressions:
    .incbin "suppressions/default.supp"
    .byte 0
    .size imgleak_default_suppressions, . - imgleak_default_suppressions
    .global imgleak_report_html
    .type imgleak_report_html, @object
imgleak_report_html:
    .incbin "analyzer/writers/report.html"
    .byte 0
    .size imgleak_report_html, . - imgleak_report_html
    .section .note.GNU-stack, "", @progbits
