"""A tiny, valid MiniSBD sentence-boundary model (ONNX), written without the ``onnx`` package.

MiniSBD models are character taggers: for each character ("unit") they output five logits
(0 inside a token, 1 end of token, 2 end of sentence, 3/4 multi-word-token variants), and
carry their config and character vocabulary as ONNX metadata. This one is a lookup table:
``. ! ? ؟`` and the Arabic comma ``،`` end a sentence, every other character ends a token. The
comma rule is deliberate: the rule-based splitter never splits there, so a test can tell which
splitter ran.

The ONNX protobuf is encoded by hand (the wire format is simple) because the ``onnx`` package
is not a dependency; onnxruntime loads the result like any exported model.
"""

from __future__ import annotations

import json
import struct

SENTENCE_ENDS = (".", "!", "?", "\u061f", "\u060c")
_CLASSES = 5
_FLOAT, _INT64 = 1, 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: bytes | str | int) -> bytes:
    """One protobuf field: ints as varints (wire type 0), the rest length-delimited (2)."""
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _value_info(name: str, elem_type: int, dims: list[str | int]) -> bytes:
    shape = b"".join(_field(1, _field(1, d) if isinstance(d, int) else _field(2, d))
                     for d in dims)
    tensor_type = _field(1, elem_type) + _field(2, shape)
    return _field(1, name) + _field(2, _field(1, tensor_type))


def _tensor(name: str, dims: list[int], values: list[float]) -> bytes:
    raw = struct.pack(f"<{len(values)}f", *values)
    return (b"".join(_field(1, d) for d in dims) + _field(2, _FLOAT) + _field(8, name)
            + _field(9, raw))


def _node(op: str, inputs: list[str], outputs: list[str]) -> bytes:
    return (b"".join(_field(1, i) for i in inputs) + b"".join(_field(2, o) for o in outputs)
            + _field(3, op.lower()) + _field(4, op))


def build_minisbd_model(lang: str = "ar") -> bytes:
    """The serialized ONNX model (inputs ``units`` int64 [N,T], ``features`` float [N,T,1])."""
    units = ["<PAD>", "<UNK>", *SENTENCE_ENDS]
    table: list[float] = []
    for unit in units:
        label = 2 if unit in SENTENCE_ENDS else 1
        table += [10.0 if k == label else 0.0 for k in range(_CLASSES)]
    nodes = [
        _node("Gather", ["table", "units"], ["by_unit"]),
        # The features input must be consumed; multiplying it by zero keeps the table's answer.
        _node("Mul", ["features", "zero"], ["no_features"]),
        _node("Add", ["by_unit", "no_features"], ["logits"]),
    ]
    graph = (b"".join(_field(1, n) for n in nodes) + _field(2, "minisbd-test")
             + _field(5, _tensor("table", [len(units), _CLASSES], table))
             + _field(5, _tensor("zero", [1], [0.0]))
             + _field(11, _value_info("units", _INT64, ["n", "t"]))
             + _field(11, _value_info("features", _FLOAT, ["n", "t", 1]))
             + _field(12, _value_info("logits", _FLOAT, ["n", "t", _CLASSES])))
    config = {"feat_funcs": ["space_before"], "max_seqlen": 1000, "batch_size": 32,
              "use_dictionary": False, "num_dict_feat": 0, "skip_newline": False}
    vocab = {"lang": lang, "idx": 0, "cutoff": 0, "lower": False,
             "_id2unit": units, "_unit2id": {u: i for i, u in enumerate(units)}}
    metadata = {"lang_code": lang, "config": json.dumps(config), "vocab": json.dumps(vocab),
                "lexicon": "null"}
    model = (_field(1, 8) + _field(2, "nashra-tests") + _field(7, graph)
             + _field(8, _field(1, "") + _field(2, 13))
             + b"".join(_field(14, _field(1, k) + _field(2, v)) for k, v in metadata.items()))
    return model
