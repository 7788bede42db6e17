"""Every example of AWS's filter-pattern documentation, with its stated outcome.

Sources: the CloudWatch Logs user guide pages "Filter pattern syntax for metric filters,
subscription filters, filter log events, and Live Tail" and its sub-pages (supported
regex syntax, terms in unstructured log events, terms in JSON log events, terms in
space-delimited log events), current and earlier editions. Where an example states no
outcome (syntax-only examples) the events here are ours, chosen to show both outcomes.
"""

from __future__ import annotations

import json

import pytest

from aws.filter_patterns import DelimitedPattern, FilterPatternError, LogEvent, matches, parse

# ------------------------------------------------------------------ unstructured terms

BAD_REQUEST = "[ERROR 400] BAD REQUEST"
UNAUTHORIZED = "[ERROR 401] UNAUTHORIZED REQUEST"
MISSING_ARGS = "[ERROR 419] MISSING ARGUMENTS"
INVALID_ARGS = "[ERROR 420] INVALID ARGUMENTS"
SERVER_ERROR = "[ERROR 500] INTERNAL SERVER ERROR"
INFO_ARGS = "[INFO] INVALID ARGUMENTS PROVIDED"

UNSTRUCTURED = [
    # A single term: every event holding it.
    ("ERROR", BAD_REQUEST, True),
    ("ERROR", UNAUTHORIZED, True),
    ("ERROR", MISSING_ARGS, True),
    ("ERROR", INVALID_ARGS, True),
    # Several terms: all of them.
    ("ERROR ARGUMENTS", MISSING_ARGS, True),
    ("ERROR ARGUMENTS", INVALID_ARGS, True),
    ("ERROR ARGUMENTS", BAD_REQUEST, False),
    ("ERROR ARGUMENTS", UNAUTHORIZED, False),
    # ?terms: any of them.
    ("?ERROR ?ARGUMENTS", BAD_REQUEST, True),
    ("?ERROR ?ARGUMENTS", UNAUTHORIZED, True),
    ("?ERROR ?ARGUMENTS", MISSING_ARGS, True),
    ("?ERROR ?ARGUMENTS", INVALID_ARGS, True),
    ("?ERROR ?ARGUMENTS", INFO_ARGS, True),
    ("?ERROR ?ARGUMENTS", "[INFO] ALL GOOD", False),
    # ?terms beside another term are ignored: only REQUEST counts.
    ("?ERROR ?ARGUMENTS REQUEST", "[INFO] REQUEST FAILED", True),
    ("?ERROR ?ARGUMENTS REQUEST", "[WARN] UNAUTHORIZED REQUEST", True),
    ("?ERROR ?ARGUMENTS REQUEST", "[ERROR] 400 BAD REQUEST", True),
    ("?ERROR ?ARGUMENTS REQUEST", MISSING_ARGS, False),
    # An exact phrase.
    ('"INTERNAL SERVER ERROR"', SERVER_ERROR, True),
    ('"INTERNAL SERVER ERROR"', "[ERROR 500] SERVER ERROR: INTERNAL", False),
    # Include one term, exclude another.
    ("ERROR -ARGUMENTS", BAD_REQUEST, True),
    ("ERROR -ARGUMENTS", UNAUTHORIZED, True),
    ("ERROR -ARGUMENTS", MISSING_ARGS, False),
    ("ERROR -ARGUMENTS", INVALID_ARGS, False),
    # " " and the empty pattern match everything.
    ('" "', BAD_REQUEST, True),
    ('" "', "nospacesatall", True),
    ("", INFO_ARGS, True),
    ('""', INFO_ARGS, True),
    # Earlier edition: terms are found inside words, case-sensitively.
    ("ERROR", "[ERROR] A fatal exception has occurred", True),
    ("ERROR", "Exiting with ERRORCODE: -1", True),
    ("ERROR", "error: lower case is another word", False),
    ('"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False),
    ('"ERROR" - "Exiting"', "[ERROR] A fatal exception has occurred", True),
    ("ERROR Exception", "[ERROR] Caught IllegalArgumentException", True),
    ("ERROR Exception", "[ERROR] Unhandled Exception", True),
    ("Failed to process the request", "[WARN] Failed to process the request", True),
    (
        "Failed to process the request",
        "[ERROR] Unable to continue: Failed to process the request",
        True,
    ),
    # Earlier edition, OR matching over three events.
    ("ERROR", "ERROR WARN message", True),
    ("ERROR", "ERROR message", True),
    ("ERROR", "WARN message", False),
    ("?ERROR ?WARN", "ERROR WARN message", True),
    ("?ERROR ?WARN", "ERROR message", True),
    ("?ERROR ?WARN", "WARN message", True),
    ("ERROR WARN", "ERROR WARN message", True),
    ("ERROR WARN", "ERROR message", False),
    ("ERROR WARN", "WARN message", False),
    ("ERROR -WARN", "ERROR WARN message", False),
    ("ERROR -WARN", "ERROR message", True),
    ("ERROR -WARN", "WARN message", False),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), UNSTRUCTURED)
def test_unstructured_examples_from_the_aws_documentation(
    pattern: str, message: str, expected: bool
) -> None:
    assert matches(pattern, message) is expected


# ------------------------------------------------------------------------------- regex

REGEX = [
    # A standalone regex.
    ("%AUTHORIZED%", UNAUTHORIZED, True),
    ("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST", True),
    ("%AUTHORIZED%", BAD_REQUEST, False),
    # ^ and $ anchor at the start and the end.
    ("%^[hc]at%", "hat on the table", True),
    ("%^[hc]at%", "cat on the table", True),
    ("%^[hc]at%", "the cat", False),
    ("%[hc]at$%", "the hat", True),
    ("%[hc]at$%", "the cat", True),
    ("%[hc]at$%", "cat on the table", False),
    # ? : zero or one.
    ("%colou?r%", "color", True),
    ("%colou?r%", "colour", True),
    ("%colou?r%", "colouur", False),
    # [] : a character class, ranges included.
    ("%[abc]%", "a", True),
    ("%[abc]%", "b", True),
    ("%[abc]%", "c", True),
    ("%[abc]%", "xyz", False),
    ("%[a-z]%", "q", True),
    ("%[a-z]%", "Q9", False),
    ("%[abcx-z]%", "y", True),
    ("%[abcx-z]%", "d", False),
    # {m,n} : between m and n times (either may be left out).
    ("%a{3,5}%", "aa", False),
    ("%a{3,5}%", "aaa", True),
    ("%a{3,5}%", "aaaa", True),
    ("%a{3,5}%", "aaaaa", True),
    ("%^a{3,5}$%", "aaaaaa", False),
    ("%^a{3,}$%", "aaaaaaaaa", True),
    ("%^a{,2}$%", "aaa", False),
    # | : either side.
    ("%gra|ey%", "gray", True),
    ("%gra|ey%", "grey", True),
    ("%^starting|^initializing|^shutting down%", "starting the worker", True),
    ("%^starting|^initializing|^shutting down%", "initializing the cache", True),
    ("%^starting|^initializing|^shutting down%", "shutting down", True),
    ("%^starting|^initializing|^shutting down%", "skipping initializing the cache", False),
    # AWS writes "aba ..." for the second alternative; its $ needs the line to end there.
    ("%abcc|ab[^c]$%", "abcc and more", True),
    ("%abcc|ab[^c]$%", "aba", True),
    ("%abcc|ab[^c]$%", "aac", False),
    # \ : the operator's own character.
    *[("%\\[.\\]%", text, True) for text in ("[a]", "[b]", "[7]", "[@]", "[]]", "[ ]")],
    ("%\\[.\\]%", "[ab]", False),
    ("%10\\.10\\.0\\.1%", "from 10.10.0.1", True),
    ("%10\\.10\\.0\\.1%", "10010,051", False),
    ("%10.10.0.1%", "10010,051", True),  # the unescaped dot matches anything
    # * : zero or more; + : one or more.
    ("%ab*c%", "ac", True),
    ("%ab*c%", "abc", True),
    ("%ab*c%", "abbbc", True),
    ("%ab[0-9]*%", "ab", True),
    ("%ab[0-9]*%", "ab0", True),
    ("%ab[0-9]*%", "ab129", True),
    ("%ab+c%", "abc", True),
    ("%ab+c%", "abbc", True),
    ("%ab+c%", "abbbc", True),
    ("%ab+c%", "ac", False),
    # . : any single character, a space too.
    *[("%.at%", text, True) for text in ("hat", "cat", "bat", "4at", "#at", " at")],
    ("%.at%", "at", False),
    # \d \D \s \S \w \W and \xhh.
    ("%\\d%", "port 80", True),
    ("%\\d%", "no digits", False),
    ("%\\D%", "80", False),
    ("%\\D%", "8O", True),
    ("%\\s%", "tab\there", True),
    ("%\\s%", "nospace", False),
    ("%\\S%", "   ", False),
    ("%\\w%", "_", True),
    ("%\\w%", "@#;", False),
    ("%\\W%", "abc_123", False),
    ("%\\W%", "a-b", True),
    ("%\\x3A%", "key:value", True),
    ("%\\x28%", "f(x)", True),
    ("%\\x28%", "fx", False),
    # The newer page's motivating examples.
    ("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "client 192.168.10.7 refused", True),
    ("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "version 1.2.3", False),
    *[("%[Ee]rror|[Ff]ail%", text, True) for text in ("Error", "error", "Fail", "fail")],
    ("%[Ee]rror|[Ff]ail%", "ERROR", False),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), REGEX)
def test_regex_examples_from_the_aws_documentation(
    pattern: str, message: str, expected: bool
) -> None:
    assert matches(pattern, message) is expected


@pytest.mark.parametrize(
    ("pattern", "equivalent"),
    [
        ("%\\d%", "%[0-9]%"),
        ("%\\D%", "%[^0-9]%"),
        ("%\\w%", "%[a-zA-Z_0-9]%"),
        ("%\\W%", "%[^a-zA-Z_0-9]%"),
    ],
)
def test_class_escapes_equal_the_classes_aws_gives_for_them(pattern: str, equivalent: str) -> None:
    for char in map(chr, range(0, 300)):
        assert matches(pattern, char) is matches(equivalent, char), repr(char)


@pytest.mark.parametrize(
    ("pattern", "position"),
    [
        ("%something!%", 10),  # ! is not among the supported characters
        ("%(alpha|beta)%", 1),  # no parentheses, no subpatterns
        ("%caf\u00e9%", 4),  # no multi-byte characters
    ],
)
def test_regex_the_documentation_says_is_rejected(pattern: str, position: int) -> None:
    with pytest.raises(FilterPatternError) as raised:
        parse(pattern)
    assert raised.value.position == position


def test_a_pattern_holds_at_most_two_regex_as_documented() -> None:
    two = "{ $.a = %x% && $.b = %y% }"
    assert matches(two, '{"a": "x", "b": "y"}')
    three = "{ $.a = %x% && $.b = %y% && $.c = %z% }"
    with pytest.raises(FilterPatternError, match="at most 2 regex") as raised:
        parse(three)
    assert raised.value.position == three.index("%z%")
    with pytest.raises(FilterPatternError, match="at most 2 regex"):
        parse("[a=%x%, b=%y%, c=%z%]")


# -------------------------------------------------------------------------------- JSON

TRAIL_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "cluster.name": "c",
        "ThisFlag": True,
    }
)

USERS_EVENT = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)

JSON_EXAMPLES = [
    # Every one of these matches the sample event.
    ('{ $.eventType = "UpdateTrail" }', TRAIL_EVENT, True),
    ("{ $.sourceIPAddress != 123.123.* }", TRAIL_EVENT, True),
    ('{ $.arrayKey[0] = "value" }', TRAIL_EVENT, True),
    ("{ $.objectList[1].id = 2 }", TRAIL_EVENT, True),
    ("{ $.eventType = %Trail% }", TRAIL_EVENT, True),
    ("{ $.arrayKey[*] = %val.{2}% }", TRAIL_EVENT, True),
    ("{ $.* = %111\\.111\\.111\\.1[0-9]{1,2}% }", TRAIL_EVENT, True),
    ("{ $.['cluster.name'] = \"c\" }", TRAIL_EVENT, True),
    ("{ $.SomeObject IS NULL }", TRAIL_EVENT, True),
    ("{ $.SomeOtherObject NOT EXISTS }", TRAIL_EVENT, True),
    ("{ $.ThisFlag IS TRUE }", TRAIL_EVENT, True),
    # ... and their opposites do not.
    ('{ $.eventType = "DeleteTrail" }', TRAIL_EVENT, False),
    ("{ $.sourceIPAddress != 111.111.* }", TRAIL_EVENT, False),
    ('{ $.arrayKey[1] = "value" }', TRAIL_EVENT, False),
    ("{ $.objectList[0].id = 2 }", TRAIL_EVENT, False),
    ("{ $.eventType = %^Trail% }", TRAIL_EVENT, False),
    ("{ $.SomeObject NOT EXISTS }", TRAIL_EVENT, False),
    ("{ $.SomeOtherObject IS NULL }", TRAIL_EVENT, False),
    ("{ $.ThisFlag IS FALSE }", TRAIL_EVENT, False),
    # If the selector's parent is not an array or object, the comparison is false.
    ('{ $.eventType[0] = "UpdateTrail" }', TRAIL_EVENT, False),
    ("{ $.sourceIPAddress.id = 2 }", TRAIL_EVENT, False),
    # Compound expressions: () before && before ||.
    (
        '{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }',
        USERS_EVENT,
        True,
    ),
    (
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" '
        '&& $.actions[2] = "nonmatch" }',
        USERS_EVENT,
        True,
    ),
    (
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") '
        '&& $.actions[2] = "nonmatch" }',
        USERS_EVENT,
        False,
    ),
    (
        '{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }',
        USERS_EVENT,
        False,
    ),
    # The earlier edition wrote the same with bare values.
    (
        '{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch '
        "&& $.actions[2] = nomatch }",
        USERS_EVENT,
        True,
    ),
    (
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) '
        "&& $.actions[2] = nomatch }",
        USERS_EVENT,
        False,
    ),
    # OR in JSON patterns over {"foo": "bar"} and {"foo": "baz"}.
    ("{$.foo = bar}", '{"foo": "bar"}', True),
    ("{$.foo = bar}", '{"foo": "baz"}', False),
    ("{$.foo = baz }", '{"foo": "bar"}', False),
    ("{$.foo = baz }", '{"foo": "baz"}', True),
    ("{$.foo = bar || $.foo = baz }", '{"foo": "bar"}', True),
    ("{$.foo = bar || $.foo = baz }", '{"foo": "baz"}', True),
    # A selector that lands on an array (or object) fails both = and !=.
    ("{$.users = 1}", '{"users": [1, 2, 3]}', False),
    ("{$.users != 1}", '{"users": [1, 2, 3]}', False),
    # Wildcards at the start or end of a string; elsewhere * is itself.
    ("{ $.name = *Event }", '{"name": "PutEvent"}', True),
    ("{ $.name = *Event }", '{"name": "GetEvent"}', True),
    ("{ $.name = *Event }", '{"name": "EventId"}', False),
    ("{ $.name = Event* }", '{"name": "EventId"}', True),
    ("{ $.name = Event* }", '{"name": "EventName"}', True),
    ("{ $.name = Event* }", '{"name": "PutEvent"}', False),
    ("{ $.name = Ev*ent }", '{"name": "Ev*ent"}', True),
    ("{ $.name = Ev*ent }", '{"name": "Event"}', False),
    ("{ $.name = Ev*ent }", '{"name": "Evident"}', False),
    # = * matches any value (AWS uses it to publish $.latency as the metric value).
    ("{ $.latency = * }", '{"latency": 250}', True),
    ("{ $.latency = * }", '{"other": 250}', False),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), JSON_EXAMPLES)
def test_json_examples_from_the_aws_documentation(
    pattern: str, message: str, expected: bool
) -> None:
    assert matches(pattern, message) is expected


# AWS lists these numeric patterns without events: ours sit on either side of each bound.
NUMERIC = [
    ("{ $.latency >= 500 }", '{"latency": 500}', True),
    ("{ $.latency >= 500 }", '{"latency": 499.99}', False),
    ("{ $.numbers[0] < 10e3 }", '{"numbers": [9999]}', True),
    ("{ $.numbers[0] < 10e3 }", '{"numbers": [10000]}', False),
    ("{ $.numbers[0] < 10e-3 }", '{"numbers": [0.009]}', True),
    ("{ $.numbers[0] < 10e-3 }", '{"numbers": [0.01]}', False),
    (
        "{ $.processes[4].averageRuntime <= 55.5 }",
        '{"processes": [0,0,0,0,{"averageRuntime": 55.5}]}',
        True,
    ),  # fmt: skip
    (
        "{ $.processes[4].averageRuntime <= 55.5 }",
        '{"processes": [0,0,0,0,{"averageRuntime": 55.51}]}',
        False,
    ),  # fmt: skip
    ("{ $.errorCode = 400 }", '{"errorCode": 400}', True),
    ("{ $.errorCode = 400 }", '{"errorCode": 400.0}', True),
    ("{ $.errorCode = 400 }", '{"errorCode": 401}', False),
    ("{ $.errorCode != 500 }", '{"errorCode": 400}', True),
    ("{ $.errorCode != 500 }", '{"errorCode": 5e2}', False),
    ("{ $.latency > +1000 }", '{"latency": 1001}', True),
    ("{ $.latency > +1000 }", '{"latency": 1000}', False),
    ("{ $.bandwidth > 75 }", '{"bandwidth": 76}', True),
    ("{ $.latency < 50 }", '{"latency": -3}', True),
    ("{ $.refreshRate >= 60 }", '{"refreshRate": 59}', False),
    ("{ $.responseTime <= 5 }", '{"responseTime": 5}', True),
    ("{ $.number[0] = 1e+3 }", '{"number": [1000]}', True),
    ("{ $.number[0] = 1e-3 }", '{"number": [0.001]}', True),
    ("{ $.number[0] != 1e+3 }", '{"number": [1000.0]}', False),
    ("{ $.number[0] != 1e-3 }", '{"number": [0.002]}', True),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), NUMERIC)
def test_numeric_comparisons_from_the_aws_documentation(
    pattern: str, message: str, expected: bool
) -> None:
    assert matches(pattern, message) is expected


def test_is_not_and_exists_are_refused_as_aws_documents() -> None:
    for pattern in ("{ $.a IS NOT NULL }", "{ $.a EXISTS }"):
        with pytest.raises(FilterPatternError, match="not supported"):
            parse(pattern)


def test_a_selector_holds_one_wildcard_and_a_pattern_three() -> None:
    with pytest.raises(FilterPatternError, match="at most one wildcard"):
        parse("{ $.a[*].b[*] = 1 }")
    three = "{ $.a[*] = 1 || $.b.* = 2 || $.c[*].d = 3 }"
    assert matches(three, '{"c": [{"d": 4}, {"d": 3}]}')
    with pytest.raises(FilterPatternError, match="at most 3 selectors with a wildcard"):
        parse("{ $.a[*] = 1 || $.b.* = 2 || $.c[*].d = 3 || $.e[*] = 4 }")


# --------------------------------------------------------------------- space-delimited

APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
]
INDEX_404 = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
INDEX_410 = INDEX_404.replace(" 404 ", " 410 ")
INDEX_200 = INDEX_404.replace(" 404 ", " 200 ")
SERVICE = [
    "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200",
    "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310",
    "WARNING 09/25/2014 12:00:02 Invalid user request",
    "ERROR 09/25/2014 12:00:02 Failed to process request",
]

DELIMITED = [
    # Seven named fields, a regex, wildcards.
    (
        "[ip=%127\\.0\\.0\\.[1-9]%, user, username, timestamp, request =*.html*, "
        "status_code = 4*, bytes]",
        INDEX_404,
        True,
    ),
    (
        "[ip=%127\\.0\\.0\\.[1-9]%, user, username, timestamp, request =*.html*, "
        "status_code = 4*, bytes]",
        INDEX_200,
        False,
    ),
    ("[..., request =*.html*, status_code = 4*, bytes]", INDEX_404, True),
    (
        "[ip, user, username, timestamp, request =*.html*, "
        "status_code = 404 || status_code = 410, bytes]",
        INDEX_404,
        True,
    ),
    (
        "[ip, user, username, timestamp, request =*.html*, "
        "status_code = 404 || status_code = 410, bytes]",
        INDEX_410,
        True,
    ),
    (
        "[ip, user, username, timestamp, request =*.html*, "
        "status_code = 404 || status_code = 410, bytes]",
        INDEX_200,
        False,
    ),
    # Terms in order: w1 is the first word; the last field takes the rest of the line.
    *[("[w1=ERROR, w2]", line, line.startswith("ERROR")) for line in SERVICE],
    *[
        ("[w1=ERROR || w1=WARNING, w2]", line, line.startswith(("ERROR", "WARNING")))
        for line in SERVICE
    ],
    *[("[w1!=ERROR && w1!=WARNING, w2]", line, line.startswith("INFO")) for line in SERVICE],
    *[
        (
            "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, response_time]",
            line,
            line == SERVICE[0],
        )
        for line in SERVICE
    ],
    *[
        (
            "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/[0-9]+$%, "
            "response_time]",
            line,
            line == SERVICE[1],
        )
        for line in SERVICE
    ],
    # Without the "blank w2" the one field is the whole line, which is not ERROR.
    ("[w1=ERROR]", SERVICE[3], False),
    # The earlier edition's Apache lines: every shape fits all three.
    *[
        (pattern, line, True)
        for pattern in (
            "[ip, user, username, timestamp, request, status_code, bytes]",
            "[..., status_code, bytes]",
            "[ip, user, ..., status_code, bytes]",
            "[ip, user, ...]",
            "[ip, user, username, timestamp, request, status_code, bytes > 1000]",
        )
        for line in APACHE
    ],
    *[
        ("[ip, user, username, timestamp, request, status_code = 200, bytes]", line, ok)
        for line, ok in zip(APACHE, (True, False, True), strict=True)
    ],
    *[
        (pattern, line, False)
        for pattern in (
            "[ip, user, username, timestamp, request, status_code = 4*, bytes]",
            "[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]",
            "[ip, user, username, timestamp, request, status_code = 403 || status_code = 404,"
            " bytes]",
        )
        for line in APACHE
    ],
    (
        "[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]",
        INDEX_404,
        True,
    ),
]


@pytest.mark.parametrize(("pattern", "message", "expected"), DELIMITED)
def test_space_delimited_examples_from_the_aws_documentation(
    pattern: str, message: str, expected: bool
) -> None:
    assert matches(pattern, message) is expected


def test_the_documented_extraction_binds_quoted_and_bracketed_fields_whole() -> None:
    pattern = parse("[..., request=*.html*, status_code=4*,]")
    assert isinstance(pattern, DelimitedPattern)
    line = (
        '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /products/index.html HTTP/1.0" '
        "404 1534"
    )

    assert pattern.matches(line)
    assert pattern.bind(LogEvent(line)) == {
        "request": "GET /products/index.html HTTP/1.0",
        "status_code": "404",
    }


def test_a_condition_on_a_field_the_pattern_does_not_name_is_an_error() -> None:
    # The earlier edition wrote [..., status_code = 4* && bytes > 1000] with no field
    # named bytes; the current one dropped it. It is refused, naming the field.
    with pytest.raises(FilterPatternError, match="bytes is not one of the pattern's fields"):
        parse("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]")


def test_the_overview_examples_parse() -> None:
    for pattern in (
        "ERROR",
        '{ $.eventType = "UpdateTrail" }',
        "[ip, user, timestamp, request, status_code = 4*, bytes]",
    ):
        assert parse(str(parse(pattern))) == parse(pattern)
