"""Hoedown 3 (from the misaka sdist, itself a cffi binding): a Markdown
renderer whose output goes through renderer callbacks, some of them written
in Python."""

import corpus
import pytest
from conftest import library_fixtures, same

LIBRARY = corpus.Library(
    "hoedown", corpus.MISAKA, "misaka/hoedown", sources=["*.c"],
    cdef="""
        typedef struct hoedown_buffer {
            uint8_t *data; size_t size; size_t asize; size_t unit; ...;
        } hoedown_buffer;
        typedef struct hoedown_renderer_data { void *opaque; } hoedown_renderer_data;
        typedef struct hoedown_renderer {
            void *opaque;
            void (*header)(hoedown_buffer *ob, const hoedown_buffer *content, int level,
                           const hoedown_renderer_data *data);
            int (*emphasis)(hoedown_buffer *ob, const hoedown_buffer *content, const hoedown_renderer_data *data);
            int (*codespan)(hoedown_buffer *ob, const hoedown_buffer *text, const hoedown_renderer_data *data);
            void (*normal_text)(hoedown_buffer *ob, const hoedown_buffer *text, const hoedown_renderer_data *data);
            ...;
        } hoedown_renderer;
        typedef struct hoedown_document hoedown_document;
        typedef enum { HOEDOWN_EXT_TABLES, HOEDOWN_EXT_FENCED_CODE, HOEDOWN_EXT_FOOTNOTES, HOEDOWN_EXT_AUTOLINK,
                       HOEDOWN_EXT_STRIKETHROUGH, HOEDOWN_EXT_SUPERSCRIPT, HOEDOWN_EXT_MATH, ... } hoedown_extensions;
        typedef enum { HOEDOWN_HTML_SKIP_HTML, HOEDOWN_HTML_ESCAPE, HOEDOWN_HTML_HARD_WRAP, HOEDOWN_HTML_USE_XHTML,
                       ... } hoedown_html_flags;
        hoedown_buffer *hoedown_buffer_new(size_t unit);
        void hoedown_buffer_put(hoedown_buffer *buf, const uint8_t *data, size_t size);
        void hoedown_buffer_puts(hoedown_buffer *buf, const char *str);
        void hoedown_buffer_free(hoedown_buffer *buf);
        hoedown_renderer *hoedown_html_renderer_new(hoedown_html_flags render_flags, int nesting_level);
        hoedown_renderer *hoedown_html_toc_renderer_new(int nesting_level);
        void hoedown_html_renderer_free(hoedown_renderer *renderer);
        void hoedown_html_smartypants(hoedown_buffer *ob, const uint8_t *data, size_t size);
        hoedown_document *hoedown_document_new(const hoedown_renderer *renderer, hoedown_extensions extensions,
                                               size_t max_nesting);
        void hoedown_document_render(hoedown_document *doc, hoedown_buffer *ob, const uint8_t *data, size_t size);
        void hoedown_document_free(hoedown_document *doc);
        void hoedown_version(int *major, int *minor, int *revision);
    """,
    source='#include "document.h"\n#include "html.h"\n#include "version.h"\n',
)

reference, module = library_fixtures(LIBRARY)

DOCUMENT = b"""# Title with *emphasis*

Some `code`, a [link](http://example.com "title"), ~~struck~~ text, an auto-link
http://example.org and a footnote[^1].

| a | b |
|---|:-:|
| 1 | 2 |

```python
print("fenced")
```

1. one
2. two
   * nested

> quoted "smart" text -- with dashes...

<div>raw html</div>

[^1]: The footnote.
"""


def render(ffi, lib, text, flags=0, extensions=None, customize=None, toc=False):
    if extensions is None:
        extensions = (lib.HOEDOWN_EXT_TABLES | lib.HOEDOWN_EXT_FENCED_CODE | lib.HOEDOWN_EXT_FOOTNOTES
                      | lib.HOEDOWN_EXT_AUTOLINK | lib.HOEDOWN_EXT_STRIKETHROUGH)
    renderer = lib.hoedown_html_toc_renderer_new(0) if toc else lib.hoedown_html_renderer_new(flags, 0)
    keep = customize(renderer) if customize else None
    document = lib.hoedown_document_new(renderer, extensions, 16)
    out = lib.hoedown_buffer_new(64)
    lib.hoedown_document_render(document, out, text, len(text))
    html = ffi.buffer(out.data, out.size)[:]
    lib.hoedown_buffer_free(out)
    lib.hoedown_document_free(document)
    lib.hoedown_html_renderer_free(renderer)
    del keep
    return html


def test_version(reference, module):
    def case(ffi, lib):
        parts = ffi.new("int[3]")
        lib.hoedown_version(parts, parts + 1, parts + 2)
        return list(parts)

    same(case, reference, module)


@pytest.mark.parametrize("flags", ["0", "HOEDOWN_HTML_ESCAPE", "HOEDOWN_HTML_SKIP_HTML | HOEDOWN_HTML_HARD_WRAP"])
def test_html(reference, module, flags):
    def case(ffi, lib):
        value = 0
        for name in flags.split(" | "):
            value |= getattr(lib, name) if name != "0" else 0
        return render(ffi, lib, DOCUMENT, value)

    assert b"<table>" in same(case, reference, module)


def test_toc_and_smartypants(reference, module):
    def case(ffi, lib):
        out = lib.hoedown_buffer_new(64)
        text = b"'Quoted' -- \"double\" ... (c) 1/2"
        lib.hoedown_html_smartypants(out, text, len(text))
        smart = ffi.buffer(out.data, out.size)[:]
        lib.hoedown_buffer_free(out)
        return render(ffi, lib, b"# A\n## B\n# C\n", toc=True), smart

    same(case, reference, module)


def test_pathological_input(reference, module):
    """Untrusted Markdown: deep nesting and long runs of delimiters."""
    text = b"> " * 2000 + b"x\n" + b"*" * 5000 + b"\n" + b"[" * 3000 + b"\n" + b"`" * 4000 + b"\n"
    same(lambda ffi, lib: render(ffi, lib, text), reference, module)


def test_renderer_callbacks_written_in_python(reference, module):
    """The HTML renderer with three of its callbacks replaced by Python ones:
    Hoedown calls them for every header, emphasis and code span, and they write
    into its output buffer."""

    def customize(ffi, lib, renderer, seen):
        def header(ob, content, level, data):
            seen.append(("header", level))
            lib.hoedown_buffer_puts(ob, b"<h%d class=\"py\">" % level)
            lib.hoedown_buffer_put(ob, content.data, content.size)
            lib.hoedown_buffer_puts(ob, b"</h%d>\n" % level)

        def emphasis(ob, content, data):
            text = ffi.buffer(content.data, content.size)[:]
            seen.append(("emphasis", text))
            lib.hoedown_buffer_put(ob, text.upper(), content.size)
            return 1

        def codespan(ob, text, data):
            if text.size > 10:
                return 0  # printed verbatim
            lib.hoedown_buffer_puts(ob, b"<kbd>")
            lib.hoedown_buffer_put(ob, text.data, text.size)
            lib.hoedown_buffer_puts(ob, b"</kbd>")
            return 1

        callbacks = [
            ffi.callback("void(hoedown_buffer *, const hoedown_buffer *, int, const hoedown_renderer_data *)",
                         header),
            ffi.callback("int(hoedown_buffer *, const hoedown_buffer *, const hoedown_renderer_data *)", emphasis),
            ffi.callback("int(hoedown_buffer *, const hoedown_buffer *, const hoedown_renderer_data *)", codespan),
        ]
        renderer.header, renderer.emphasis, renderer.codespan = callbacks
        return callbacks

    def case(ffi, lib):
        seen = []
        text = DOCUMENT + b"\n## Second *part*\n\n`short` and `a much longer span`\n" * 50
        html = render(ffi, lib, text, customize=lambda r: customize(ffi, lib, r, seen))
        return html, seen

    html, seen = same(case, reference, module)
    assert b'class="py"' in html and b"<kbd>short</kbd>" in html and len(seen) > 100
