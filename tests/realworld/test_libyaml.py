"""libyaml 0.2.5 (from the ruamel.yaml.clib sdist): a parser of untrusted
input, fed documents and malformed text, and its emitter writing through a
Python callback."""

import corpus
import pytest
from conftest import library_fixtures, same

LIBRARY = corpus.Library(
    "libyaml", corpus.RUAMEL_YAML_CLIB, ".",
    sources=["api.c", "reader.c", "scanner.c", "parser.c", "loader.c", "writer.c", "emitter.c", "dumper.c"],
    define_macros=[("HAVE_CONFIG_H", None)],
    cdef="""
        typedef struct { ...; } yaml_parser_t;
        typedef struct { ...; } yaml_event_t;
        typedef struct { ...; } yaml_emitter_t;
        typedef int yaml_write_handler_t(void *data, unsigned char *buffer, size_t size);
        const char *yaml_get_version_string(void);
        int yaml_parser_initialize(yaml_parser_t *parser);
        void yaml_parser_set_input_string(yaml_parser_t *parser, const unsigned char *input, size_t size);
        int yaml_parser_parse(yaml_parser_t *parser, yaml_event_t *event);
        void yaml_parser_delete(yaml_parser_t *parser);
        void yaml_event_delete(yaml_event_t *event);
        int yaml_emitter_initialize(yaml_emitter_t *emitter);
        void yaml_emitter_set_output(yaml_emitter_t *emitter, yaml_write_handler_t *handler, void *data);
        void yaml_emitter_set_unicode(yaml_emitter_t *emitter, int unicode);
        int yaml_emitter_emit(yaml_emitter_t *emitter, yaml_event_t *event);
        void yaml_emitter_delete(yaml_emitter_t *emitter);
        int event_type(const yaml_event_t *event);
        const char *event_text(const yaml_event_t *event);
        const char *parser_problem(const yaml_parser_t *parser, size_t *line, size_t *column);
    """,
    # Ours: readers of the fields the tests need (they sit in unions).
    source=r"""
        #include "yaml.h"
        int event_type(const yaml_event_t *e) { return e->type; }
        const char *event_text(const yaml_event_t *e) {
            switch (e->type) {
            case YAML_SCALAR_EVENT: return (const char *)e->data.scalar.value;
            case YAML_ALIAS_EVENT: return (const char *)e->data.alias.anchor;
            case YAML_MAPPING_START_EVENT: return (const char *)e->data.mapping_start.tag;
            case YAML_SEQUENCE_START_EVENT: return (const char *)e->data.sequence_start.tag;
            default: return NULL;
            }
        }
        const char *parser_problem(const yaml_parser_t *p, size_t *line, size_t *column) {
            *line = p->problem_mark.line;
            *column = p->problem_mark.column;
            return p->problem;
        }
    """,
)

reference, module = library_fixtures(LIBRARY)

DOCUMENTS = {
    "config": b"name: wasmcffi\nversion: 0.1\ntargets: [wasm, native]\nlimits:\n  memory: 1GiB\n  timeout: 2.5\n",
    "anchors": b"base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n",
    "tags and styles": b"--- !!map\nliteral: |\n  line one\n  line two\nfolded: >\n  folded\n  text\n"
                       b"quoted: \"esc\\taped \\u00e9\"\nsingle: 'it''s'\nbinary: !!binary aGVsbG8=\n...\n",
    "many documents": b"".join(b"--- {id: %d, squares: [%s]}\n" % (i, b", ".join(b"%d" % (j * j) for j in range(i)))
                               for i in range(200)),
    "deep": b"[" * 500 + b"]" * 500,
    "unicode": "clé: valeur ☃\nemoji: \U0001F600\n".encode(),
    # Malformed: the parser must report a problem and where it is.
    "bad indentation": b"a:\n  b: 1\n c: 2\n",
    "unclosed flow": b"{a: [1, 2, 3}\n",
    "bad escape": b"s: \"\\q\"\n",
    "undefined alias": b"a: *nothing\n",
    "tab indentation": b"a:\n\t- 1\n",
    "invalid utf-8": b"key: \xff\xfe\xfd\n",
}


def parse(ffi, lib, text):
    """Every event of `text` as (type, text), then ('error', problem, line, column) if any."""
    parser = ffi.new("yaml_parser_t *")
    event = ffi.new("yaml_event_t *")
    assert lib.yaml_parser_initialize(parser)
    lib.yaml_parser_set_input_string(parser, text, len(text))
    events = []
    while True:
        if not lib.yaml_parser_parse(parser, event):
            line, column = ffi.new("size_t *"), ffi.new("size_t *")
            problem = lib.parser_problem(parser, line, column)
            events.append(("error", ffi.string(problem) if problem else None, line[0], column[0]))
            break
        kind = lib.event_type(event)
        value = lib.event_text(event)
        events.append((kind, ffi.string(value) if value else None))
        lib.yaml_event_delete(event)
        if kind == 2:  # YAML_STREAM_END_EVENT
            break
    lib.yaml_parser_delete(parser)
    return events


def test_version(reference, module):
    same(lambda ffi, lib: ffi.string(lib.yaml_get_version_string()), reference, module)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_parse(reference, module, name):
    same(lambda ffi, lib: parse(ffi, lib, DOCUMENTS[name]), reference, module)


@pytest.mark.parametrize("name", ["config", "anchors", "tags and styles", "unicode"])
def test_parse_and_emit_through_a_python_writer(reference, module, name):
    """Each parsed event goes to the emitter, which writes YAML through a Python
    write handler (called from C with a pointer into its buffer)."""

    def case(ffi, lib):
        text = DOCUMENTS[name]
        chunks = []

        def write(data, buffer, size):
            chunks.append(ffi.buffer(buffer, size)[:])
            return 1

        handler = ffi.callback("yaml_write_handler_t", write)
        parser = ffi.new("yaml_parser_t *")
        emitter = ffi.new("yaml_emitter_t *")
        event = ffi.new("yaml_event_t *")
        lib.yaml_parser_initialize(parser)
        lib.yaml_parser_set_input_string(parser, text, len(text))
        lib.yaml_emitter_initialize(emitter)
        lib.yaml_emitter_set_unicode(emitter, 1)
        lib.yaml_emitter_set_output(emitter, handler, ffi.NULL)
        ok = True
        while ok:
            ok = lib.yaml_parser_parse(parser, event)
            if not ok:
                break
            kind = lib.event_type(event)
            ok = lib.yaml_emitter_emit(emitter, event)  # takes the event
            if kind == 2:
                break
        lib.yaml_emitter_delete(emitter)
        lib.yaml_parser_delete(parser)
        return ok, b"".join(chunks)

    ok, output = same(case, reference, module)
    assert ok and output
