"""SQLite 3.50 with the sqlean extensions (from the sqlean.py sdist): an SQL
engine of over 300k lines of C, with Python callbacks for rows and for SQL
functions."""

import corpus
import pytest
from conftest import library_fixtures, same

EXTENSIONS = "crypto define fileio fuzzy ipaddr regexp stats text time unicode uuid vsv".split()

LIBRARY = corpus.Library(
    "sqlite", corpus.SQLEAN, "sqlite",
    # As sqlean.py's setup.py builds it: the amalgamation, every sqlean
    # extension and its bundle file, with its SQLite options.
    sources=["sqlite3.c", "sqlean-*.c", "../src/sqlean.c"],
    define_macros=[(f"SQLITE_{option}", "1") for option in (
        "ENABLE_DBPAGE_VTAB", "ENABLE_DBSTAT_VTAB", "ENABLE_EXPLAIN_COMMENTS", "ENABLE_FTS4", "ENABLE_FTS5",
        "ENABLE_GEOPOLY", "ENABLE_JSON1", "ENABLE_MATH_FUNCTIONS", "ENABLE_RTREE", "ENABLE_STAT4",
        "ENABLE_STMTVTAB", "LIKE_DOESNT_MATCH_BLOBS", "USE_URI")]
    + [("SQLITE_MAX_VARIABLE_NUMBER", "250000"), ("SQLITE_EXTRA_INIT", "core_init"),
       ("SQLEAN_VERSION", '"corpus"'), ("PCRE2_CODE_UNIT_WIDTH", "8"), ("LINK_SIZE", "2"),
       ("HAVE_CONFIG_H", "1"), ("SUPPORT_UNICODE", "1")],
    cdef="""
        typedef struct sqlite3 sqlite3;
        typedef struct sqlite3_stmt sqlite3_stmt;
        typedef struct sqlite3_context sqlite3_context;
        typedef struct sqlite3_value sqlite3_value;
        #define SQLITE_OK ...
        #define SQLITE_ROW ...
        #define SQLITE_DONE ...
        #define SQLITE_UTF8 ...
        const char *sqlite3_libversion(void);
        int sqlite3_open(const char *filename, sqlite3 **db);
        int sqlite3_close(sqlite3 *);
        int sqlite3_exec(sqlite3 *, const char *sql, int (*callback)(void *, int, char **, char **),
                         void *, char **errmsg);
        void sqlite3_free(void *);
        const char *sqlite3_errmsg(sqlite3 *);
        int sqlite3_prepare_v2(sqlite3 *, const char *sql, int bytes, sqlite3_stmt **stmt, const char **tail);
        int sqlite3_bind_int64(sqlite3_stmt *, int, long long);
        int sqlite3_bind_double(sqlite3_stmt *, int, double);
        int sqlite3_bind_text(sqlite3_stmt *, int, const char *, int, void (*)(void *));
        int sqlite3_bind_blob(sqlite3_stmt *, int, const void *, int, void (*)(void *));
        int sqlite3_step(sqlite3_stmt *);
        int sqlite3_reset(sqlite3_stmt *);
        int sqlite3_column_count(sqlite3_stmt *);
        const unsigned char *sqlite3_column_text(sqlite3_stmt *, int);
        const void *sqlite3_column_blob(sqlite3_stmt *, int);
        int sqlite3_column_bytes(sqlite3_stmt *, int);
        int sqlite3_finalize(sqlite3_stmt *);
        int sqlite3_create_function(sqlite3 *, const char *name, int args, int encoding, void *data,
            void (*func)(sqlite3_context *, int, sqlite3_value **),
            void (*step)(sqlite3_context *, int, sqlite3_value **), void (*final)(sqlite3_context *));
        long long sqlite3_value_int64(sqlite3_value *);
        const unsigned char *sqlite3_value_text(sqlite3_value *);
        void sqlite3_result_int64(sqlite3_context *, long long);
        void sqlite3_result_text(sqlite3_context *, const char *, int, void (*)(void *));
        void sqlite3_result_error(sqlite3_context *, const char *, int);
        int open_with_extensions(const char *filename, sqlite3 **db);
    """,
    # Our part: every sqlean extension registered on a connection, as its
    # bundle does when the environment asks for them (a sandbox has no
    # environment, so the choice is made here, the same on every target).
    source="#include \"sqlite3.h\"\n"
    + "".join(f"int {name}_init(sqlite3 *);\n" for name in EXTENSIONS)
    + "int open_with_extensions(const char *filename, sqlite3 **db) {\n"
    "    int rc = sqlite3_open(filename, db);\n"
    + "".join(f"    if (rc == SQLITE_OK) rc = {name}_init(*db);\n" for name in EXTENSIONS)
    + "    return rc;\n}\n",
)

reference, module = library_fixtures(LIBRARY)


def query(ffi, lib, sql, db=None):
    """The rows of `sql` (each a tuple of bytes or None), collected by a Python
    callback of sqlite3_exec, or ('error', message)."""
    handle = ffi.new("sqlite3 **")
    if db is None:
        assert lib.open_with_extensions(b":memory:", handle) == lib.SQLITE_OK
        db = handle[0]
    rows = []

    def on_row(_, count, values, names):
        rows.append(tuple(ffi.string(values[i]) if values[i] else None for i in range(count)))
        return 0

    callback = ffi.callback("int(void *, int, char **, char **)", on_row)
    error = ffi.new("char **")
    rc = lib.sqlite3_exec(db, sql, callback, ffi.NULL, error)
    if rc != lib.SQLITE_OK:
        message = ffi.string(error[0])
        lib.sqlite3_free(error[0])
        return ("error", rc, message)
    return rows


def test_version(reference, module):
    same(lambda ffi, lib: ffi.string(lib.sqlite3_libversion()), reference, module)


@pytest.mark.parametrize("sql", [
    b"select 1, 'two', 3.5, null, x'00ff'",
    b"create table t(a integer primary key, b text, c real);"
    b"insert into t(b, c) values ('x', 1.5), ('y', 2.25), ('z', null);"
    b"select a, upper(b), c * 2, typeof(c) from t order by a desc",
    # 100,000 rows made by a recursive query, then aggregated.
    b"with recursive n(i) as (select 1 union all select i + 1 from n where i < 100000)"
    b" select count(*), sum(i), avg(i), min(i * 7 % 1000), max(i * 7 % 1000), total(i / 3.0) from n",
    b"select json_extract('{\"a\": [1, 2, {\"b\": 3}]}', '$.a[2].b'), json_array(1, 'x', null),"
    b" json_group_array(value) from json_each('[3, 1, 2]')",
    b"create virtual table docs using fts5(body);"
    b"insert into docs values ('sandboxed c from python'), ('native c'), ('python only');"
    b"select body from docs where docs match 'python' order by rank",
    b"select round(sqrt(2), 10), round(exp(1), 10), pow(2, 40), printf('%.3e|%08.2f|%x', 12345.678, 3.14159, 255)",
    b"select regexp_like('sandbox', 'b[aeiou]x'), regexp_replace('a1b22c333', '[0-9]+', '#'),"
    b" text_upper('hello'), text_reverse('abc'), fuzzy_leven('kitten', 'sitting'),"
    b" hex(sha1('abc')), hex(md5('')), hex(sha512('')), ipfamily('10.0.0.1'), ipcontains('192.168.0.0/16', '192.168.1.1')",
    b"select percentile(value, 50), median(value), stddev(value) from generate_series(1, 99)",
    b"select time_fmt_iso(time_unix(1700000000)), uuid_str(x'00112233445566778899aabbccddeeff')",
    b"select 1 from no_such_table",
    b"select syntax error here",
])
def test_queries(reference, module, sql):
    same(lambda ffi, lib: query(ffi, lib, sql), reference, module)


def test_prepared_statement_with_bound_values(reference, module):
    def case(ffi, lib):
        db = ffi.new("sqlite3 **")
        lib.sqlite3_open(b":memory:", db)
        query(ffi, lib, b"create table t(n integer, x real, s text, b blob)", db[0])
        stmt = ffi.new("sqlite3_stmt **")
        transient = ffi.cast("void (*)(void *)", -1)
        assert lib.sqlite3_prepare_v2(db[0], b"insert into t values (?, ?, ?, ?)", -1, stmt, ffi.NULL) == 0
        for i in range(200):
            data = bytes(range(i % 256)) * 3
            lib.sqlite3_bind_int64(stmt[0], 1, i * 10**12)
            lib.sqlite3_bind_double(stmt[0], 2, i / 7)
            # SQLITE_TRANSIENT: SQLite copies the bytes (they live for the call only).
            lib.sqlite3_bind_text(stmt[0], 3, f"row {i}".encode(), -1, transient)
            lib.sqlite3_bind_blob(stmt[0], 4, data, len(data), transient)
            assert lib.sqlite3_step(stmt[0]) == lib.SQLITE_DONE
            lib.sqlite3_reset(stmt[0])
        lib.sqlite3_finalize(stmt[0])
        assert lib.sqlite3_prepare_v2(db[0], b"select s, b from t where n % 3 = 0 order by n desc", -1, stmt,
                                      ffi.NULL) == 0
        rows = []
        while lib.sqlite3_step(stmt[0]) == lib.SQLITE_ROW:
            size = lib.sqlite3_column_bytes(stmt[0], 1)
            blob = lib.sqlite3_column_blob(stmt[0], 1)
            rows.append((ffi.string(lib.sqlite3_column_text(stmt[0], 0)),
                         ffi.buffer(blob, size)[:] if size else b""))
        lib.sqlite3_finalize(stmt[0])
        lib.sqlite3_close(db[0])
        return rows

    assert len(same(case, reference, module)) == 67


def test_sql_function_written_in_python(reference, module):
    """SQLite calls a Python function for each row: sqlite3_create_function with
    a callback that reads its arguments and sets its result through the C API."""

    def case(ffi, lib):
        db = ffi.new("sqlite3 **")
        lib.open_with_extensions(b":memory:", db)

        def collatz_steps(context, argc, argv):
            n = lib.sqlite3_value_int64(argv[0])
            if n <= 0:
                lib.sqlite3_result_error(context, b"collatz wants a positive number", -1)
                return
            steps = 0
            while n != 1:
                n = n // 2 if n % 2 == 0 else 3 * n + 1
                steps += 1
            lib.sqlite3_result_int64(context, steps)

        func = ffi.callback("void(sqlite3_context *, int, sqlite3_value **)", collatz_steps)
        assert lib.sqlite3_create_function(db[0], b"collatz", 1, lib.SQLITE_UTF8, ffi.NULL, func,
                                           ffi.NULL, ffi.NULL) == lib.SQLITE_OK
        rows = query(ffi, lib, b"select value, collatz(value) from generate_series(1, 300)"
                               b" where collatz(value) > 100", db[0])
        failed = query(ffi, lib, b"select collatz(-5)", db[0])
        lib.sqlite3_close(db[0])
        return rows, failed

    rows, failed = same(case, reference, module)
    assert len(rows) > 10 and failed[0] == "error"
