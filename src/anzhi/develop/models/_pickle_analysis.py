"""Symbolic execution of a pickle: which globals it imports, which it calls, with what — never loading it.

A stack machine follows the opcodes from :mod:`._pickle_ops` with values it can reason about (constants, globals,
call results, containers), including the memo. It resolves GLOBAL, STACK_GLOBAL (names fetched through the memo
too), INST, OBJ, REDUCE, NEWOBJ(_EX) and BUILD, follows ``getattr``/``__import__``/``attrgetter``/``methodcaller``/
``partial`` to the function they reach, taints values decoded at load time (base64, hex, zlib, rot13) so that
``eval`` of one is reported, and steps over the raw array bytes joblib writes after each ``NumpyArrayWrapper``
(reading them as opcodes on the side, as ``pickle.load`` would). Each global is judged by the policy.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, MutableMapping
from typing import Any

from anzhi.develop.models._pickle_ops import (
    MAX_PROTOCOL,
    OPCODE_NAMES,
    Arg,
    Blob,
    ByteReader,
    PickleStreamError,
    iter_ops,
)
from anzhi.develop.models._pickle_policy import (
    ATTRIBUTE_OVERWRITE,
    DYNAMIC_GLOBAL,
    EXTENSION_CODE,
    OBFUSCATED_CODE,
    OUT_OF_BAND,
    TRAILING_DATA,
    UNKNOWN_GLOBAL,
    UNRESOLVED_GLOBAL,
    PicklePolicy,
    Role,
    Standing,
    decoded_preview,
    global_reason,
)
from anzhi.develop.models._pickle_values import (
    CallValue,
    FatalValue,
    GlobalUse,
    Opaque,
    PickleReport,
    describe,
    pairs,
)
from anzhi.develop.models._result import Reason
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED

__all__ = ["CallValue", "GlobalUse", "PickleReport", "analyse_pickle"]

_MAX_UNKNOWN_REASONS = 50
_JOBLIB_WRAPPER = ("joblib.numpy_pickle", "NumpyArrayWrapper")
_RECONSTRUCTORS = {("copyreg", "_reconstructor"), ("copyreg", "__newobj__"), ("copyreg", "__newobj_ex__")}
_PUSH_ARG = ("FLOAT", "INT", "BININT", "BININT1", "LONG", "BININT2", "STRING", "BINSTRING", "SHORT_BINSTRING",
             "UNICODE", "BINUNICODE", "BINBYTES", "SHORT_BINBYTES", "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES8",
             "BYTEARRAY8", "LONG1", "LONG4", "BINFLOAT")

_PUSH_CODES = [OPCODE_NAMES.get(code) in _PUSH_ARG for code in range(256)]


class _Machine:
    """One walk over one stream. A ``shadow`` walk (joblib array bytes read as opcodes) keeps dangerous globals only."""

    def __init__(self, reader: ByteReader, policy: PicklePolicy, report: PickleReport, *, max_ops: int,
                 out_of_time: Callable[[], bool], where: str, shadow: bool = False,
                 memo: MutableMapping[Any, Any] | None = None) -> None:
        self.reader, self.policy, self.report = reader, policy, report
        self.max_ops, self.out_of_time, self.where, self.shadow = max_ops, out_of_time, where, shadow
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: MutableMapping[Any, Any] = memo if memo is not None else {}
        self.frames: list[tuple[list[Any], list[list[Any]], MutableMapping[Any, Any]]] = []
        self.ops_since_stop = 0
        self.oob_seen = False
        push = self.push
        table: dict[str, Callable[[int, Arg], object]] = {
            **dict.fromkeys(_PUSH_ARG, lambda o, a: push(a)),
            "NONE": lambda o, a: push(None), "NEWTRUE": lambda o, a: push(True),
            "NEWFALSE": lambda o, a: push(False), "EMPTY_TUPLE": lambda o, a: push(()),
            "EMPTY_DICT": lambda o, a: push(Opaque("dict")), "EMPTY_LIST": lambda o, a: push(Opaque("list")),
            "EMPTY_SET": lambda o, a: push(Opaque("set")), "FRAME": lambda o, a: None,
            "DUP": lambda o, a: push(self.stack[-1]), "POP_MARK": lambda o, a: self.pop_mark(),
            "READONLY_BUFFER": lambda o, a: self.stack[-1], "TUPLE1": lambda o, a: self.tuple_n(1),
            "TUPLE2": lambda o, a: self.tuple_n(2), "TUPLE3": lambda o, a: self.tuple_n(3),
            "MEMOIZE": lambda o, a: self.memo.__setitem__(len(self.memo), self.stack[-1]),
            "BINPERSID": lambda o, a: (self.stack.pop(), self.persistent()),
            "PERSID": lambda o, a: self.persistent(),
            "NEWOBJ_EX": lambda o, a: (self.stack.pop(), self.call_top(o, "NEWOBJ_EX")),
            "FROZENSET": self.op_list, "ADDITEMS": self.op_appends,
            "APPEND": lambda o, a: self.add([self.pop()], offset=o),
            "SETITEM": lambda o, a: self.add([self.pop_pair()], offset=o),
            "GET": self.op_get, "BINGET": self.op_get, "LONG_BINGET": self.op_get,
            "PUT": self.op_put, "BINPUT": self.op_put, "LONG_BINPUT": self.op_put,
            "EXT1": self.op_ext, "EXT2": self.op_ext, "EXT4": self.op_ext,
        }
        table.update({name[3:].upper(): getattr(self, name) for name in dir(self) if name.startswith("op_")})
        self.handlers: list[Callable[[int, Arg], object] | None] = [None] * 256
        for code, name in OPCODE_NAMES.items():
            self.handlers[code] = table[name]

    # -- values ------------------------------------------------------------------------------------------------
    def push(self, value: Any) -> None:
        """Put a value on the stack."""
        self.stack.append(value)

    def pop(self) -> Any:
        """Take the top value."""
        return self.stack.pop()

    def pop_pair(self) -> tuple[Any, Any]:
        """Take a key and its value."""
        value = self.stack.pop()
        return self.stack.pop(), value

    def pop_mark(self) -> list[Any]:
        """The items since the last MARK (popping the mark replaces ``self.stack``: read it after calling)."""
        if not self.metastack:
            raise FatalValue("MARK expected but not found")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def tuple_n(self, n: int) -> None:
        """TUPLE1/2/3."""
        if len(self.stack) < n:
            raise IndexError
        items = tuple(self.stack[-n:])
        del self.stack[-n:]
        self.stack.append(items)

    def add(self, values: list[Any], extra: int = 0, *, offset: int) -> None:
        """APPEND(S)/SETITEM(S)/ADDITEMS into the container on top (other objects: their methods run, unmodelled)."""
        target = self.stack[-1]
        if isinstance(target, Opaque) and target.kind in ("dict", "list", "set"):
            target.add(values, extra)
        elif isinstance(target, GlobalUse):  # items added to a module-level object itself (sys.path, a registry)
            target.used = True
            self.reason(ATTRIBUTE_OVERWRITE.reason(
                f"the pickle adds items to {target.qualname} itself (offset {offset})", location=self.at(offset),
                detail={"global": target.qualname}))

    def reason(self, reason: Reason) -> None:
        """Record a reason (not from a shadow walk)."""
        if not self.shadow:
            self.report.reasons.append(reason)

    def at(self, offset: int) -> str:
        """A location string for an offset."""
        return f"{self.where}offset {offset}"

    def make_global(self, module: str, name: str, offset: int, via: str) -> GlobalUse:
        """A global value, judged once per distinct name."""
        use = self.report.uses.get((module, name))
        if use is None:
            norm = self.policy.normalise(module, name)
            judgement = self.policy.judge(module, name)
            use = GlobalUse(module, name, offset, via, judgement, norm, self.policy.role(*norm))
            plain = f"{module}.{name}".replace(".", "").replace("_", "").isalnum()
            if self.shadow and (judgement.standing in (Standing.SAFE, Standing.UNKNOWN) or not plain):
                return use  # random array bytes that happen to spell a global: not recorded
            if self.shadow:
                use.via = f"{via} inside joblib array bytes, read as opcodes by pickle.load"
            self.report.uses[(module, name)] = use
        use.count += 1
        return use

    # -- calls ---------------------------------------------------------------------------------------------------
    def derive(self, base: GlobalUse, attr: str, via: str, offset: int) -> GlobalUse:
        """``base.attr``, reached at load time (getattr, attrgetter, methodcaller)."""
        return self.make_global(base.module, f"{base.name}.{attr}" if base.name else attr, offset, via)

    def call(self, func: Any, args: Any, offset: int, kind: str) -> Any:
        """Record ``func(*args)`` and return what it yields, as far as the analysis can tell."""
        argv = args if isinstance(args, tuple) else ()
        target = func
        if isinstance(func, CallValue):  # a callable made at load time: partial, attrgetter, methodcaller
            inner = func.func.role if isinstance(func.func, GlobalUse) else None
            fargs = func.args if isinstance(func.args, tuple) else ()
            named = bool(fargs) and isinstance(fargs[0], str) and bool(argv) and isinstance(argv[0], GlobalUse)
            if inner is Role.PARTIAL and fargs:
                target, argv = fargs[0], (*fargs[1:], *argv)
            elif inner is Role.ATTRGETTER and named:
                return self.derive(argv[0], fargs[0], "operator.attrgetter", offset)
            elif inner is Role.METHODCALLER and named:
                target, argv = self.derive(argv[0], fargs[0], "operator.methodcaller", offset), fargs[1:]
        decoded = None
        for value in (func, *argv):
            if isinstance(value, GlobalUse):
                value.used = True
            elif isinstance(value, CallValue) and value.decoded is not None:
                decoded = value.decoded
        if not isinstance(target, GlobalUse):
            return CallValue(func, args, offset, decoded=decoded)
        use = target
        use.invoked = use.used = True
        if len(self.report.calls) < 1000 and not self.shadow:
            self.report.calls.append((use.qualname, offset, kind))
        if target.norm[0] == "torch._utils" and target.norm[1].startswith(("_rebuild_tensor", "_rebuild_qtensor")):
            self.report.tensors += 1
        role = use.role
        if role is Role.GETATTR and len(argv) >= 2 and isinstance(argv[0], GlobalUse) and isinstance(argv[1], str):
            return self.derive(argv[0], argv[1], "builtins.getattr", offset)
        if role is Role.IMPORTER and argv and isinstance(argv[0], str):
            top_level = use.norm == ("builtins", "__import__") and not (len(argv) > 3 and argv[3])
            return self.make_global(argv[0].partition(".")[0] if top_level else argv[0], "", offset, use.qualname)
        if role is Role.DECODER:
            return CallValue(func, args, offset, decoded=decoded or decoded_preview(use.qualname, argv))
        if role is Role.CODE_SINK and argv:
            code = argv[0]
            shown = code.decoded if isinstance(code, CallValue) and code.decoded is not None else (
                repr(code[:160]) if isinstance(code, (str, bytes)) else "")
            use.evidence = use.evidence or shown
            if isinstance(code, CallValue) and code.decoded is not None:
                self.reason(OBFUSCATED_CODE.reason(
                    f"{use.qualname} runs code decoded at load time (offset {offset}): {shown!r}",
                    location=self.at(offset), detail={"global": use.qualname, "decoded": shown}))
        return CallValue(func, args, offset, decoded=decoded)

    # -- opcodes with logic ------------------------------------------------------------------------------------
    def op_mark(self, offset: int, arg: Arg) -> None:
        self.metastack.append(self.stack)
        self.stack = []

    def op_stop(self, offset: int, arg: Arg) -> None:
        value = self.stack.pop()
        if self.frames:  # the end of a pickle joblib wrote inside another (an object array)
            self.stack, self.metastack, self.memo = self.frames.pop()
            self.stack.append(value)
            return
        self.report.pickles += 1
        if len(self.report.results) < 8:
            self.report.results.append(value)
        self.stack, self.metastack, self.memo = [], [], {}
        self.ops_since_stop = -1

    def op_pop(self, offset: int, arg: Arg) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def persistent(self) -> bool:
        """PERSID/BINPERSID: an object the loader supplies (PyTorch storages)."""
        self.report.persistent_ids += 1
        self.push(Opaque("persistent object"))
        return True

    def call_top(self, offset: int, kind: str) -> bool:
        """REDUCE, NEWOBJ, NEWOBJ_EX (its kwargs popped already): call the callable under the arguments."""
        args = self.pop()
        self.push(self.call(self.pop(), args, offset, kind))
        return True

    def op_reduce(self, offset: int, arg: Arg) -> None:
        self.call_top(offset, "REDUCE")

    def op_newobj(self, offset: int, arg: Arg) -> None:
        self.call_top(offset, "NEWOBJ")

    def op_inst(self, offset: int, arg: Arg) -> None:
        args = tuple(self.pop_mark())
        module, name = arg if isinstance(arg, tuple) else ("", "")
        self.push(self.call(self.make_global(module, name, offset, "INST"), args, offset, "INST"))

    def op_obj(self, offset: int, arg: Arg) -> None:
        items = self.pop_mark()
        if not items:
            raise FatalValue("OBJ without a class")
        self.push(self.call(items[0], tuple(items[1:]), offset, "OBJ"))

    def op_global(self, offset: int, arg: Arg) -> None:
        module, name = arg if isinstance(arg, tuple) else ("", "")
        self.push(self.make_global(module, name, offset, "GLOBAL"))

    def op_stack_global(self, offset: int, arg: Arg) -> None:
        name, module = self.pop(), self.pop()
        if isinstance(module, str) and isinstance(name, str):
            self.push(self.make_global(module, name, offset, "STACK_GLOBAL"))
            return
        detail = {"module": describe(module), "name": describe(name)}
        if isinstance(module, (GlobalUse, CallValue)) or isinstance(name, (GlobalUse, CallValue)):
            self.reason(DYNAMIC_GLOBAL.reason(
                f"STACK_GLOBAL at offset {offset} takes its name from a value computed while loading "
                f"({detail['module']}, {detail['name']})", location=self.at(offset), detail=detail))
        elif isinstance(module, (Opaque, Blob)) or isinstance(name, (Opaque, Blob)):
            self.reason(UNRESOLVED_GLOBAL.reason(
                f"STACK_GLOBAL at offset {offset} names {detail['module']}.{detail['name']}",
                location=self.at(offset), detail=detail))
        else:
            raise FatalValue(f"STACK_GLOBAL needs two strings, got {detail['module']} and {detail['name']}")
        self.push(Opaque("opaque"))

    def op_build(self, offset: int, arg: Arg) -> None:
        state = self.pop()
        obj = self.stack[-1]
        if isinstance(obj, GlobalUse):  # BUILD on a class or module itself: setattr on it
            keys = [k for k, _v in self.state_items(state) if isinstance(k, str)][:8]
            obj.used = True
            self.reason(ATTRIBUTE_OVERWRITE.reason(
                f"BUILD rewrites {', '.join(keys) or 'attributes'} of {obj.qualname} itself (offset {offset})",
                location=self.at(offset), detail={"global": obj.qualname, "attributes": keys}))
            return
        if not isinstance(obj, CallValue):
            return
        obj.state = state
        cls = obj.func if isinstance(obj.func, GlobalUse) else None
        if cls is not None and cls.norm in _RECONSTRUCTORS and isinstance(obj.args, tuple) and obj.args \
                and isinstance(obj.args[0], GlobalUse):
            cls = obj.args[0]
        if cls is not None:
            cls.used = cls.rebuilt = True
            if cls.norm == _JOBLIB_WRAPPER:
                self.joblib_array(obj, offset)

    def op_dict(self, offset: int, arg: Arg) -> None:
        items = self.pop_mark()
        box = Opaque("dict")
        box.add(*pairs(items))
        self.push(box)

    def op_list(self, offset: int, arg: Arg) -> None:
        box = Opaque("list")
        box.add(self.pop_mark())
        self.push(box)

    def op_tuple(self, offset: int, arg: Arg) -> None:
        items = tuple(self.pop_mark())
        self.push(items)

    def op_appends(self, offset: int, arg: Arg) -> None:
        self.add(self.pop_mark(), offset=offset)

    def op_setitems(self, offset: int, arg: Arg) -> None:
        items = self.pop_mark()
        self.add(*pairs(items), offset=offset)

    def op_get(self, offset: int, arg: Arg) -> None:
        if arg not in self.memo:
            raise FatalValue(f"memo entry {arg!r} read at offset {offset} was never stored")
        self.push(self.memo[arg])

    def op_put(self, offset: int, arg: Arg) -> None:
        if not isinstance(arg, int) or arg < 0:
            raise FatalValue(f"bad memo index {arg!r}")
        self.memo[arg] = self.stack[-1]

    def op_proto(self, offset: int, arg: Arg) -> None:
        if not isinstance(arg, int) or arg > MAX_PROTOCOL:
            raise FatalValue(f"unsupported pickle protocol {arg!r}")
        if not self.shadow:
            self.report.protocol = max(self.report.protocol or 0, arg)

    def op_ext(self, offset: int, arg: Arg) -> None:
        self.reason(EXTENSION_CODE.reason(f"extension code {arg!r} at offset {offset} names a hidden global",
                                          location=self.at(offset), detail={"code": arg}))
        self.push(Opaque("opaque"))

    def op_next_buffer(self, offset: int, arg: Arg) -> None:
        if not self.oob_seen:
            self.oob_seen = True
            self.reason(OUT_OF_BAND.reason(f"NEXT_BUFFER at offset {offset}", location=self.at(offset)))
        self.push(Opaque("opaque"))

    # -- joblib ----------------------------------------------------------------------------------------------------
    def state_items(self, state: Any) -> list[tuple[Any, Any]]:
        """Key/value pairs of a BUILD state (a dict, or a (dict, slots) pair)."""
        if isinstance(state, tuple) and state and isinstance(state[0], Opaque):
            state = state[0]
        return list(state.items) if isinstance(state, Opaque) and state.kind == "dict" else []

    def joblib_array(self, wrapper: CallValue, offset: int) -> None:
        """Step over the array joblib wrote right after this wrapper (joblib's unpickler reads it there)."""
        from anzhi.develop.models._pickle_formats import joblib_array_layout  # the formats module imports this one

        layout = joblib_array_layout(dict(self.state_items(wrapper.state)))
        if layout is None:
            raise PickleStreamError(offset, "a joblib array's dtype or shape cannot be sized; the rest is unchecked",
                                    limit=True)
        plain_stack = (list(self.stack), [list(level) for level in self.metastack])  # as pickle.load has them
        self.stack.pop()
        padded, nbytes = layout
        if nbytes < 0:  # an object array: joblib pickled it in place; walk that pickle, then go on
            self.frames.append((self.stack, self.metastack, self.memo))
            self.stack, self.metastack, self.memo = [], [], {}
            return
        start = self.reader.pos
        padding = 0
        if padded:
            first = self.reader.peek(1)
            if not first:
                raise PickleStreamError(start, "data ends before a joblib array", truncated=True)
            padding = 1 + first[0]
        self.shadow_walk(start, start + padding + nbytes, plain_stack)
        self.push(Opaque("ndarray"))

    def shadow_walk(self, start: int, end: int, stacks: tuple[list[Any], list[list[Any]]]) -> None:
        """Read ``[start, end)`` as opcodes, as plain ``pickle.load`` would, then go on from ``end``.

        Dangerous globals found there are kept: a file can be a valid joblib dump and a different pickle at once.
        """
        reader, saved_end = self.reader, self.reader.end
        if saved_end is not None and end > saved_end:
            raise PickleStreamError(start, f"data ends inside a {end - start:,}-byte joblib array", truncated=True)
        reader.set_end(end)
        try:
            shadow = _Machine(reader, self.policy, self.report, max_ops=end - start + 1,
                              out_of_time=self.out_of_time, where=self.where, shadow=True, memo=ChainMap({}, self.memo))
            shadow.stack, shadow.metastack = stacks
            shadow.run()
        finally:
            reader.set_end(saved_end)
        reader.skip(end - reader.pos)

    # -- the walk ----------------------------------------------------------------------------------------------
    def run(self, max_pickles: int | None = None) -> None:
        """Walk until the data ends, an error, a limit, or ``max_pickles`` pickles."""
        report, handlers, count, pushes = self.report, self.handlers, 0, _PUSH_CODES
        try:
            for offset, code, arg in iter_ops(self.reader, self.max_ops):
                count += 1
                self.ops_since_stop += 1
                if count & 0x3FF == 0 and self.out_of_time():
                    raise PickleStreamError(offset, "time budget spent", limit=True)
                if pushes[code]:  # the most common opcodes just put their argument on the stack
                    self.stack.append(arg)
                    continue
                handler = handlers[code]
                if handler is None:  # pragma: no cover - every opcode in the table has a handler
                    raise FatalValue(f"no handler for opcode {code:#04x}")
                try:
                    handler(offset, arg)
                except IndexError:
                    raise FatalValue(f"{OPCODE_NAMES[code]} at offset {offset} needs more values on the stack") \
                        from None
                if max_pickles is not None and report.pickles >= max_pickles:
                    break
            else:
                if not self.shadow and (self.ops_since_stop >= 0 or report.pickles == 0):
                    self.stopped(self.reader.pos, "the data ends before STOP", truncated=True)
                    return
            report.complete = not self.shadow
        except PickleStreamError as exc:
            self.stopped(exc.offset, exc.message, truncated=exc.truncated, limit=exc.limit)
        except FatalValue as exc:
            self.stopped(self.reader.pos, str(exc))
        finally:
            if not self.shadow:
                report.opcodes += count
                report.end = self.reader.pos

    def stopped(self, offset: int, message: str, *, truncated: bool = False, limit: bool = False) -> None:
        """Turn the reason the walk stopped into a reason for the file."""
        if self.shadow:
            return
        if limit:
            self.report.stop = "limit"
            self.reason(LIMIT_REACHED.reason(f"pickle analysis stopped at offset {offset}: {message}",
                                             location=self.at(offset)))
        elif self.report.pickles and self.ops_since_stop <= 0 and not self.frames:
            self.report.complete = True
            self.reason(TRAILING_DATA.reason(f"{message}; the last pickle ended before it", location=self.at(offset)))
        else:
            self.report.stop = "truncated" if truncated else "malformed"
            self.reason(MALFORMED.reason(f"pickle {self.report.stop} at offset {offset}: {message}",
                                         location=self.at(offset)))


def analyse_pickle(reader: ByteReader, policy: PicklePolicy, *, max_ops: int, out_of_time: Callable[[], bool],
                   where: str = "", max_pickles: int | None = None) -> PickleReport:
    """Walk the pickle(s) in ``reader`` and judge what they import and call.

    ``where`` prefixes locations (``"member archive/data.pkl, "``); ``max_pickles`` stops after that many (legacy
    PyTorch files hold five, then raw storage bytes). Errors and limits become reasons; nothing raises.
    """
    report = PickleReport()
    _Machine(reader, policy, report, max_ops=max_ops, out_of_time=out_of_time, where=where).run(max_pickles)
    unknown = 0
    for use in sorted(report.uses.values(), key=lambda u: u.offset):
        if use.judgement.standing is Standing.SAFE:
            continue
        if use.judgement.standing is Standing.UNKNOWN:
            unknown += 1
            if unknown > _MAX_UNKNOWN_REASONS:
                continue
        report.reasons.append(global_reason(
            use.judgement, use.qualname, use.offset, where=where, invoked=use.invoked, used=use.used,
            rebuilt=use.rebuilt, complete=report.complete, via=use.via, evidence=use.evidence))
    if unknown > _MAX_UNKNOWN_REASONS:
        report.reasons.append(UNKNOWN_GLOBAL.reason(
            f"{unknown - _MAX_UNKNOWN_REASONS} more unknown globals (listed in the metadata)",
            location=where.rstrip(", ")))
    return report
