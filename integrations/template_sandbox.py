"""The sandbox alert templates run in: Jinja2's immutable sandbox plus bounded work.

- No underscore attributes (``__class__``, ``__subclasses__``...), no mutation of lists
  and dicts, only plain-text string methods, no include/import/extends, and printing a
  function is an error rather than its repr. JSON keys win over dict methods, so
  Grafana's ``alert.values`` is the alert's values.
- Bounded work: the size of any string or list built while rendering (``*``, ``**``,
  ``%``, ``+``, ``str.format``, padding, ``replace``, ``join``, namespace values),
  ``range()`` length, total loop iterations, and a time limit. The clock is checked
  cooperatively (each loop step, call, filter and output chunk), so no thread is ever
  interrupted from outside; every construct that could spin without passing a check (a
  loop, a call) passes one. Every ``{% for %}`` is rewritten at compile time to draw from
  the budget (see ``bounded_template``).

Used through ``integrations.templating``; nothing here knows about alerts.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from itertools import islice
from typing import Any, Final

from jinja2 import ChainableUndefined, Template, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

__all__ = [
    "MAX_ITEMS",
    "MAX_LOOP_ITERATIONS",
    "MAX_RANGE",
    "MAX_VALUE_CHARS",
    "TIME_LIMIT_SECONDS",
    "TemplateError",
    "bounded_template",
    "budget",
    "check_size",
    "limits",
    "make_environment",
    "refuse",
]

# Any one string or list built while rendering; payload strings stay well below.
MAX_VALUE_CHARS: Final = 1_000_000
MAX_ITEMS: Final = 100_000
MAX_RANGE: Final = 10_000
MAX_LOOP_ITERATIONS: Final = 100_000
MAX_INT_BITS: Final = 100_000
TIME_LIMIT_SECONDS: Final = 0.05

_LOOP_FILTER: Final = "_bounded_loop"
_PERCENT_SPEC_RE: Final = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?")
_DIGITS_RE: Final = re.compile(r"[0-9]+")
# String methods a template may call: none of them can build more than its input,
# except the padding ones, replace and join, which are size-checked in _check_call.
_STR_METHODS: Final = frozenset(
    {
        "capitalize", "casefold", "center", "count", "endswith", "find", "format",
        "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
        "islower", "isnumeric", "isspace", "istitle", "isupper", "join", "ljust", "lower",
        "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex",
        "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith",
        "strip", "swapcase", "title", "upper", "zfill",
    }
)  # fmt: skip
_PADDING_METHODS: Final = frozenset({"center", "ljust", "rjust", "zfill"})
# Jinja filters we drop: non-deterministic output would make dedup keys unstable.
_DROPPED_FILTERS: Final = frozenset({"random"})


class TemplateError(Exception):
    """A template that cannot compile or failed while rendering."""

    def __init__(self, message: str, template_name: str = "template") -> None:
        super().__init__(message)
        self.message = message
        self.template_name = template_name

    def __str__(self) -> str:
        return f"{self.template_name}: {self.message}"


# --- limits -----------------------------------------------------------------------


class _Budget:
    """The work one render may still do: a deadline and a loop-iteration allowance.

    The limit is wall-clock time, checked on the cheap monotonic clock. A busy machine
    must not fail healthy templates, though: once the deadline passes, the thread's CPU
    clock says whether the render itself used the time or was waiting for a CPU; only
    waiting extends the deadline, and never past ten times the limit.
    """

    __slots__ = ("cpu_start", "deadline", "hard_deadline", "iterations", "time_limit")

    def __init__(self, time_limit: float) -> None:
        now = time.monotonic()
        self.time_limit = time_limit
        self.deadline = now + time_limit
        self.hard_deadline = now + 10 * time_limit
        self.cpu_start = time.thread_time()
        self.iterations = 0

    def check(self) -> None:
        now = time.monotonic()
        if now <= self.deadline:
            return
        used = time.thread_time() - self.cpu_start
        if used < self.time_limit and now < self.hard_deadline:
            self.deadline = now + (self.time_limit - used)
            return
        raise TemplateError(f"took longer than {self.time_limit * 1000:g} ms; stopped")

    def step(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise TemplateError(f"loops ran more than {MAX_LOOP_ITERATIONS} times; stopped")
        if not self.iterations & 63:
            self.check()


_BUDGET: ContextVar[_Budget | None] = ContextVar("klaxon_template_budget", default=None)


def budget() -> _Budget:
    # Outside render() (a helper called from Python) each call gets its own allowance.
    return _BUDGET.get() or _Budget(TIME_LIMIT_SECONDS)


@contextmanager
def limits(time_limit: float) -> Iterator[_Budget]:
    budget = _Budget(time_limit)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def refuse(message: str) -> TemplateError:
    return TemplateError(message)


def check_size(value: Any) -> Any:
    """``value`` unchanged, or TemplateError when it is a too-large string or list."""
    if isinstance(value, str | bytes) and len(value) > MAX_VALUE_CHARS:
        raise refuse(f"a value of {len(value)} characters is over the {MAX_VALUE_CHARS} limit")
    if isinstance(value, list | tuple | dict | set) and len(value) > MAX_ITEMS:
        raise refuse(f"a collection of {len(value)} items is over the {MAX_ITEMS} limit")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise refuse("a number that large is not allowed")
    return value


def _check_length(estimate: int) -> None:
    if estimate > MAX_VALUE_CHARS:
        raise refuse(f"the result would be over {MAX_VALUE_CHARS} characters")


def _check_width(width: Any) -> None:
    if isinstance(width, int) and width > MAX_VALUE_CHARS:
        raise refuse(f"a width of {width} is over the {MAX_VALUE_CHARS} limit")


def _check_percent_format(text: str) -> None:
    """Refuse printf-style widths and precisions that would build huge strings."""
    for match in _PERCENT_SPEC_RE.finditer(text):
        for part in match.groups():
            if part == "*":
                raise refuse("'*' widths are not allowed in % formatting")
            if part is not None and len(part) > 6:
                raise refuse(f"a width of {part} is over the {MAX_VALUE_CHARS} limit")


def _check_format_string(text: str) -> None:
    """The same for str.format(): no huge widths, nested fields or lookups."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise refuse(f"bad format string: {exc}") from None
    for _literal, field_name, spec, _conversion in fields:
        if field_name and ("." in field_name or "[" in field_name):
            raise refuse("format strings may not look up attributes or items; use {{ }}")
        if not spec:
            continue
        if "{" in spec:
            raise refuse("nested fields are not allowed in format strings")
        for digits in _DIGITS_RE.findall(spec):
            if len(digits) > 6:
                raise refuse(f"a width of {digits} is over the {MAX_VALUE_CHARS} limit")


def _check_replace(text: str, old: Any, new: Any) -> None:
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        occurrences = text.count(old) if old else len(text) + 1
        _check_length(len(text) + occurrences * (len(new) - len(old)))


def _joinable(items: Any) -> list[Any]:
    """``items`` as a list for join(), refusing more than MAX_ITEMS."""
    if isinstance(items, str):
        return list(items)
    listed = list(islice(items, MAX_ITEMS + 1))
    if len(listed) > MAX_ITEMS:
        raise refuse(f"join() of more than {MAX_ITEMS} items is not allowed")
    return listed


def _check_join(separator: str, items: list[Any]) -> None:
    estimate = len(separator) * max(len(items) - 1, 0)
    _check_length(estimate + sum(len(item) if isinstance(item, str) else 20 for item in items))


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(count, int):
                _check_length(len(sequence) * max(count, 0))
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise refuse("a number that large is not allowed")
    elif operator == "**":
        if (
            _int_bits(left) > 1
            and isinstance(right, int)
            and right * _int_bits(left) > MAX_INT_BITS
        ):
            raise refuse("a number that large is not allowed")
    elif operator == "%" and isinstance(left, str):
        _check_percent_format(left)
    elif (
        operator == "+"
        and isinstance(left, str | list | tuple)
        and isinstance(right, str | list | tuple)
    ):
        _check_length(len(left) + len(right))


def _int_bits(value: Any) -> int:
    """Bits in an integer operand (0 for anything else)."""
    return value.bit_length() if isinstance(value, int) else 0


def _check_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Size checks for the string methods that can grow; returns the args to use."""
    owner = getattr(func, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(func, "__name__", "")
    if name in _PADDING_METHODS:
        _check_width(args[0] if args else kwargs.get("width"))
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])
    elif name == "join" and args:
        items = _joinable(args[0])
        _check_join(owner, items)
        return (items, *args[1:])
    return args


def _bounded_loop(iterable: Any) -> Iterator[Any]:
    """Wraps every ``{% for %}`` iterable: each step spends from the render's budget."""
    allowance = budget()
    if isinstance(iterable, Undefined):
        return
    for item in iterable:
        allowance.step()
        yield item


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        length = len(numbers)
    except OverflowError:
        length = MAX_RANGE + 1
    if length > MAX_RANGE:
        raise refuse(f"range() is limited to {MAX_RANGE} numbers")
    return numbers


class _BoundedNamespace(Namespace):
    """``namespace()`` whose attributes cannot hold over-large values.

    A namespace is the one way a loop can carry a value from one iteration to the
    next, so it is where a doubling string would grow.
    """

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, check_size(value))


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # JSON keys win over dict methods: Grafana's alert.values, a payload's "items".
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, str) and callable(value):
            return attr in _STR_METHODS
        return True

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return check_size(super().call_binop(context, operator, left, right))

    def call(
        __self,  # noqa: N805 - Jinja's signature: keyword arguments may be named "self"
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget().check()
        args = _check_call(__obj, args, kwargs)
        return check_size(super().call(__context, __obj, *args, **kwargs))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Jinja returns an undefined that prints as ""; say plainly that it was refused.
        raise SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed"
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapper = super().wrap_str_format(value)
        if wrapper is not None:
            _check_format_string(value.__self__)
        return wrapper


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A Jinja filter with the same size limits as calls made from templates."""
    takes_context = hasattr(func, "jinja_pass_arg")

    @wraps(func)  # keeps jinja_pass_arg, so Jinja still passes context/eval_ctx
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget().check()
        value_index = 1 if takes_context else 0
        value = args[value_index] if len(args) > value_index else None
        params = [*args[value_index + 1 :], *kwargs.values()]
        for param in params:
            _check_width(param)
        if name == "replace" and isinstance(value, str) and len(params) >= 2:
            _check_replace(value, params[0], params[1])
        elif name == "indent" and isinstance(value, str) and params:
            width = params[0] if isinstance(params[0], int) else len(str(params[0]))
            _check_length(len(value) + width * (value.count("\n") + 1))
        elif name == "format" and isinstance(value, str):
            _check_percent_format(value)
        elif name == "join" and value is not None and not isinstance(value, Undefined):
            items = _joinable(value)
            separator = params[0] if params and isinstance(params[0], str) else ""
            _check_join(separator, items)
            args = (*args[:value_index], items, *args[value_index + 1 :])
        return check_size(func(*args, **kwargs))

    return guarded


def _printable(value: Any) -> Any:
    """Jinja's finalize: what ``{{ }}`` prints. Functions are an error, not their repr."""
    if callable(value) and not isinstance(value, Undefined):
        name = getattr(value, "__name__", type(value).__name__)
        raise refuse(f"{name} is a function: call it, e.g. {name}(...), to print its result")
    return value


def make_environment(helpers: Mapping[str, Callable[..., Any]]) -> _Environment:
    environment = _Environment(autoescape=False, undefined=ChainableUndefined, finalize=_printable)
    environment.filters = {
        name: _guarded_filter(name, func)
        for name, func in FILTERS.items()
        if name not in _DROPPED_FILTERS
    }
    environment.filters.update(helpers)
    environment.filters[_LOOP_FILTER] = _bounded_loop
    environment.globals.pop("lipsum", None)  # builds text of any requested size
    environment.globals.update(helpers)
    environment.globals["range"] = _bounded_range
    environment.globals["namespace"] = _BoundedNamespace
    return environment


def bounded_template(environment: _Environment, source: str) -> Template:
    """Compile ``source`` with every loop drawing from the render's budget.

    Raises TemplateError for include/import/extends (there is nothing to load), and
    Jinja's TemplateSyntaxError for syntax errors.
    """
    tree = environment.parse(source)
    for kind, word in (
        (nodes.Extends, "extends"),
        (nodes.Include, "include"),
        (nodes.Import, "import"),
        (nodes.FromImport, "import"),
    ):
        if tree.find(kind) is not None:
            raise TemplateError(f"{{% {word} %}} is not available in alert templates")
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    return environment.from_string(tree)
