/* GLib's objects under the scan and the default suppressions (realprogs.sh). A static type with
 * private data, two properties (a string with a default, an enum) and a signal with a class
 * handler: GLib keeps what they make for the process's life and points at instances past their
 * private data and at its fundamental types past a header, which the scan must recognise; the
 * signal's class closure, pointed to past its start too, is a default rule's. Each block that
 * matters is made by its own function, so the report names it:
 *   keep_thing_in_global an instance a global points to                   reachable
 *   drop_in_class_init   a block the class's init allocates and drops     leaked
 *   make_forgotten_thing an instance made and never unrefed (with its     leaked
 *                        private part and a string it owns hanging)
 *   lose_array_middle    an array of pointers to blocks that point to     possible
 *                        blocks, pointed into at its third element (not
 *                        an instance: what it points to is not a class)
 * An instance made and unrefed leaves nothing. */
#include <glib-object.h>
#include <string.h>

typedef enum { SHADE_LIGHT, SHADE_DARK } Shade;

static GType shade_get_type(void)
{
    static gsize id;
    static const GEnumValue values[] = {
        {SHADE_LIGHT, "SHADE_LIGHT", "light"}, {SHADE_DARK, "SHADE_DARK", "dark"}, {0, NULL, NULL}};
    if (g_once_init_enter(&id))
        g_once_init_leave(&id, g_enum_register_static("TestShade", values));
    return id;
}

typedef struct {
    GObject parent;
    char *label;
} Thing;
typedef struct {
    GObjectClass parent;
    void (*changed)(Thing *thing);
} ThingClass;
typedef struct {
    char note[40];
    int shade;
} ThingPrivate;

G_DEFINE_TYPE_WITH_PRIVATE(Thing, thing, G_TYPE_OBJECT)

static void *volatile dropped;

static __attribute__((noinline)) void drop_in_class_init(void)
{
    dropped = g_malloc(4000);
    memset(dropped, 1, 4000);
    dropped = NULL;
}

static void thing_finalize(GObject *object)
{
    g_free(((Thing *)object)->label);
    G_OBJECT_CLASS(thing_parent_class)->finalize(object);
}

static void thing_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
    ThingPrivate *priv = thing_get_instance_private((Thing *)object);
    if (id == 1)
        g_value_set_string(value, ((Thing *)object)->label);
    else if (id == 2)
        g_value_set_enum(value, priv->shade);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void thing_class_init(ThingClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = thing_finalize;
    G_OBJECT_CLASS(klass)->get_property = thing_get_property;
    g_object_class_install_property(G_OBJECT_CLASS(klass), 1,
        g_param_spec_string("label", "Label", "what it shows", "untitled", G_PARAM_READABLE));
    g_object_class_install_property(G_OBJECT_CLASS(klass), 2,
        g_param_spec_enum("shade", "Shade", "how dark", shade_get_type(), SHADE_LIGHT,
                          G_PARAM_READABLE));
    g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                 G_STRUCT_OFFSET(ThingClass, changed), NULL, NULL, NULL, G_TYPE_NONE, 0);
    drop_in_class_init();
}

static void thing_init(Thing *self)
{
    ThingPrivate *priv = thing_get_instance_private(self);
    strcpy(priv->note, "a note");
}

static Thing *volatile forgotten;

static __attribute__((noinline)) void make_forgotten_thing(void)
{
    Thing *t = g_object_new(thing_get_type(), NULL);
    t->label = g_strdup("lost thing");
    forgotten = t;
    forgotten = NULL;
}

static Thing *volatile kept_thing;
static void **volatile array_middle;

static __attribute__((noinline)) void lose_array_middle(void)
{
    void **array = g_malloc0(8 * sizeof *array);
    for (int k = 0; k < 8; k++) {
        void **node = g_malloc0(32);
        node[0] = g_malloc0(32);
        array[k] = node;
    }
    array_middle = &array[2];
}

static __attribute__((noinline)) void keep_thing_in_global(void)
{
    kept_thing = g_object_new(thing_get_type(), NULL);
}

int main(void)
{
    keep_thing_in_global();
    lose_array_middle();
    Thing *kept = g_object_new(thing_get_type(), NULL);
    g_object_unref(kept);
    make_forgotten_thing();
    return 0;
}
