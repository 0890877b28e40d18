"""Random-weight CTranslate2 Transformers with realistic output shape, for synthetic packages.

Random weights alone make a model that never emits end-of-sentence or collapses on one token.
So one residual dimension of the decoder is reserved for a position ramp that no sublayer
writes to (it is zeroed in the target embeddings too), and the EOS row of the output projection
reads it: EOS becomes likelier with every generated token. Arabic-script pieces get a bias far
down, so outputs are Latin script as an ar→en model's would be.

``ModelShape`` sets the size (a tiny one for tests, a base-size one for the benchmark) and the
``behaviour`` gives the quality-guard tests models that fail in the ways real Argos models do:

- ``normal``: varied Latin-script output of a realistic length;
- ``loop``: "A B A B …" under plain beam search, recoverable with ``no_repeat_ngram_size``;
- ``stuck``: one token over and over, still dominating with a repetition penalty;
- ``unk``: only ``<unk>``, which ``replace_unknowns`` turns into copied Arabic source pieces;
- ``silent``: a bare word boundary, then end-of-sentence (empty output);
- ``arabic``: Arabic-script pieces only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ctranslate2.specs import transformer_spec

BEHAVIOURS = ("normal", "loop", "stuck", "unk", "silent", "arabic")
_FORBIDDEN = -1e4


@dataclass(frozen=True)
class ModelShape:
    """Transformer size and output shaping.

    EOS logit = ``eos_bias`` + ``eos_weight`` × (layer-normalised ``ramp`` × position), minus
    ``length_coupling`` × (mean source position) when that is set. ``decoder_scale`` scales
    the decoder sublayers' output projections: small values leave the residual stream carrying
    mostly the previous token and the position. ``random_positions`` > 0 replaces the decoder's
    sinusoids by random vectors of that scale.
    """

    d_model: int = 64
    ffn: int = 128
    layers: int = 2
    heads: int = 2
    vocab: int = 900
    decoder_scale: float = 1.0
    target_embedding_scale: float = 1.0
    random_positions: float = 0.0
    length_coupling: float = 0.0
    length_dim: int = 509
    projection_scale: float = 1.0
    eos_dim: int = 10
    ramp: float = 0.1
    eos_weight: float = 8.0
    eos_bias: float = -6.0
    positions: int = 512


# Random decoder positions here too: with sinusoids the tiny model's int8 kernels on some CPUs
# (seen on AMD EPYC) fall into "A B A B" loops that the quality guards rightly flag. The loop
# behaviour keeps sinusoids (its design relies on them).
TEST_SHAPE = ModelShape(random_positions=1.0, eos_bias=-8.0)
# The size of Argos Translate's ar→en package (6+6 layers, d_model 512, FFN 2048, 8 heads, ~8k
# vocabulary). Random decoder position vectors keep successive steps from picking the same
# tokens (sinusoids change too slowly for a random model: it loops); the constants were
# measured to give outputs of about 0.9× the source length (median ~37 tokens on the benchmark
# corpus, correlation with source length 0.98), Latin script, none flagged as degenerate.
BASE_SHAPE = ModelShape(d_model=512, ffn=2048, layers=6, heads=8, vocab=8000,
                        decoder_scale=0.3, target_embedding_scale=0.5, projection_scale=3.0,
                        random_positions=1.0, eos_dim=511, ramp=0.05, eos_weight=24.0,
                        eos_bias=-10.0, length_coupling=100.0, length_dim=509)


def is_arabic_piece(piece: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in piece)


def _sinusoids(shape: ModelShape) -> np.ndarray:
    half = shape.d_model // 2
    pos = np.arange(shape.positions, dtype=np.float32)[:, None]
    freq = np.exp(-np.log(10000.0) * np.arange(half) / half)
    table: np.ndarray = np.concatenate([np.sin(pos * freq), np.cos(pos * freq)], axis=1)
    return table.astype(np.float32)


def _fill(rng: np.random.Generator, spec: object, shape: ModelShape, *,
          reserve: int | None = None, scale: float = 1.0) -> None:
    """Give every required variable of a (sub)spec seeded random values of the right shape.

    ``reserve`` is a residual dimension no sublayer may write to, so that it carries the
    position ramp untouched to the output projection; ``scale`` multiplies the sublayers'
    output projections (what they add to the residual stream).
    """
    d, f = shape.d_model, shape.ffn

    def w(*dims: int) -> np.ndarray:
        weights: np.ndarray = rng.standard_normal(dims) / np.sqrt(dims[-1])
        return weights.astype(np.float32)

    def norm(ln: object) -> None:
        ln.gamma = np.ones(d, np.float32)  # type: ignore[attr-defined]
        ln.beta = np.zeros(d, np.float32)  # type: ignore[attr-defined]

    def linear(lin: object, out_dim: int, in_dim: int, *, writes_residual: bool = False) -> None:
        weight, bias = w(out_dim, in_dim), np.zeros(out_dim, np.float32)
        if writes_residual:
            weight *= scale
            if reserve is not None:
                weight[reserve] = 0.0
        lin.weight, lin.bias = weight, bias  # type: ignore[attr-defined]

    for layer in spec.layer:  # type: ignore[attr-defined]
        for att in [layer.self_attention, *([layer.attention] if hasattr(layer, "attention")
                                            else [])]:
            norm(att.layer_norm)
            if len(att.linear) == 2:  # self-attention: fused QKV, then output
                linear(att.linear[0], 3 * d, d)
            else:  # encoder-decoder attention: Q, fused KV, output
                linear(att.linear[0], d, d)
                linear(att.linear[1], 2 * d, d)
            linear(att.linear[-1], d, d, writes_residual=True)
        norm(layer.ffn.layer_norm)
        linear(layer.ffn.linear_0, f, d)
        linear(layer.ffn.linear_1, d, f, writes_residual=True)
    norm(spec.layer_norm)  # type: ignore[attr-defined]
    spec.position_encodings.encodings = _sinusoids(shape)  # type: ignore[attr-defined]


def _embeddings(rng: np.random.Generator, vocab: int, d_model: int) -> np.ndarray:
    # CTranslate2 multiplies embeddings by sqrt(d_model); this keeps them at unit scale.
    weights: np.ndarray = rng.standard_normal((vocab, d_model)) / np.sqrt(d_model)
    return weights.astype(np.float32)


def build_ct2_model(out_dir: Path, pieces: list[str], seed: int,
                    shape: ModelShape = TEST_SHAPE, behaviour: str = "normal") -> None:
    """Save an int8 CTranslate2 Transformer over ``pieces`` (shared vocabulary) in ``out_dir``."""
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}")
    rng = np.random.default_rng(seed)
    spec = transformer_spec.TransformerSpec.from_config(num_layers=shape.layers,
                                                        num_heads=shape.heads)
    vocab = len(pieces)
    spec.encoder.embeddings[0].weight = _embeddings(rng, vocab, shape.d_model)
    target_embeddings = _embeddings(rng, vocab, shape.d_model) * shape.target_embedding_scale
    target_embeddings[:, shape.eos_dim] = 0.0
    spec.decoder.embeddings.weight = target_embeddings
    _fill(rng, spec.encoder, shape, reserve=shape.length_dim if shape.length_coupling else None)
    # A loop needs the next token to depend on the previous one only: no decoder sublayers.
    scale = 0.0 if behaviour == "loop" else shape.decoder_scale
    _fill(rng, spec.decoder, shape, reserve=shape.eos_dim, scale=scale)
    ramp = spec.decoder.position_encodings.encodings
    if shape.random_positions and behaviour != "loop":
        ramp[:] = rng.standard_normal(ramp.shape) * shape.random_positions
    ramp[:, shape.eos_dim] = np.arange(shape.positions, dtype=np.float32) * shape.ramp
    projection, bias = _output_layer(rng, pieces, shape)
    if shape.length_coupling:
        _couple_length(spec, shape, projection, target_embeddings, spec.encoder.embeddings[0])
    _apply_behaviour(behaviour, pieces, projection, bias, target_embeddings)
    spec.decoder.projection.weight = projection.astype(np.float32)
    spec.decoder.projection.bias = bias
    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    spec.validate()
    spec.optimize(quantization="int8")
    out_dir.mkdir()
    spec.save(str(out_dir))


def _couple_length(spec: object, shape: ModelShape, projection: np.ndarray,
                   target_embeddings: np.ndarray, source_embeddings: object) -> None:
    """Make EOS come later for longer sources, as a translation's length follows its source's.

    The encoder carries a position ramp in ``length_dim``; the last decoder layer's
    cross-attention is made uniform (zero queries), so its value for that dimension is the mean
    source position, i.e. proportional to the source length. It is written to ``length_dim`` of
    the decoder's residual stream, which the EOS row reads with a negative weight.
    """
    d, k = shape.d_model, shape.length_dim
    source_embeddings.weight[:, k] = 0.0  # type: ignore[attr-defined]
    encodings = spec.encoder.position_encodings.encodings  # type: ignore[attr-defined]
    encodings[:, k] = np.arange(shape.positions, dtype=np.float32) * shape.ramp
    target_embeddings[:, k] = 0.0
    spec.decoder.position_encodings.encodings[:, k] = 0.0  # type: ignore[attr-defined]
    for layer in spec.decoder.layer:  # type: ignore[attr-defined]
        for att in (layer.self_attention, layer.attention):
            att.linear[-1].weight[k] = 0.0
        layer.ffn.linear_1.weight[k] = 0.0
    cross = spec.decoder.layer[-1].attention  # type: ignore[attr-defined]
    cross.linear[0].weight[:] = 0.0
    cross.linear[1].weight[d] = 0.0
    cross.linear[1].weight[d, k] = 1.0
    cross.linear[-1].weight[k] = 0.0
    cross.linear[-1].weight[k, 0] = 1.0
    eos = int(np.argmax(projection[:, shape.eos_dim]))
    projection[eos, k] = -shape.length_coupling
    projection[:, k][np.arange(len(projection)) != eos] = 0.0


def _output_layer(rng: np.random.Generator, pieces: list[str],
                  shape: ModelShape) -> tuple[np.ndarray, np.ndarray]:
    vocab, d = len(pieces), shape.d_model
    projection = rng.standard_normal((vocab, d)) * shape.projection_scale / np.sqrt(d)
    projection[:, shape.eos_dim] = 0.0
    bias = np.zeros(vocab, np.float32)
    for i, piece in enumerate(pieces):
        # An English model never emits Arabic script, <unk> (would be replaced by a source
        # token) or <s>.
        if is_arabic_piece(piece) or piece in ("<unk>", "<s>"):
            bias[i] = _FORBIDDEN
    eos = pieces.index("</s>")
    projection[eos] = 0.0
    projection[eos, shape.eos_dim] = shape.eos_weight
    bias[eos] = shape.eos_bias
    return projection, bias


def _latin_pieces(pieces: list[str]) -> list[int]:
    return [i for i, p in enumerate(pieces)
            if p.startswith("▁") and len(p) > 2 and p[1:].isascii() and p[1:].isalpha()]


def _apply_behaviour(behaviour: str, pieces: list[str], projection: np.ndarray,
                     bias: np.ndarray, embeddings: np.ndarray) -> None:
    latin = _latin_pieces(pieces)
    if behaviour == "silent":
        # CTranslate2 emits at least one token (min_decoding_length=1): make it a bare "▁",
        # which decodes to nothing, then end.
        bias[pieces.index("</s>")] = -_FORBIDDEN
        bias[pieces.index("▁")] = 50.0
    elif behaviour == "arabic":
        arabic = np.array([is_arabic_piece(p) for p in pieces])
        bias[:] = np.where(arabic, 0.0, _FORBIDDEN)
        bias[pieces.index("</s>")] = _FORBIDDEN  # end only at max_decoding_length: no short cut
    elif behaviour == "unk":
        bias[pieces.index("<unk>")] = 10.0
    elif behaviour == "stuck":
        bias[latin[0]] = 10.0
    elif behaviour == "loop":
        _design_loop(pieces, latin, projection, embeddings)


def _design_loop(pieces: list[str], latin: list[int], projection: np.ndarray,
                 embeddings: np.ndarray) -> None:
    """Next token = f(previous token): <s>→A, A→B, B→A, with second choice a long chain.

    With no decoder sublayers the final state is the previous token's embedding plus the
    position, so a projection row aligned with a token's embedding is that token's successor.
    Plain beam search loops "A B A B …"; once no_repeat_ngram_size forbids the loop, the
    second choice leads into a chain of distinct tokens until EOS.
    """
    a, b, chain = latin[0], latin[1], latin[2:42]
    projection[[i for i in range(len(pieces)) if i not in (pieces.index("</s>"),)]] *= 0.3

    def link(prev: int, nxt: int, strength: float) -> None:
        direction = embeddings[prev] / np.linalg.norm(embeddings[prev])
        projection[nxt] += strength * direction

    link(pieces.index("<s>"), a, 2.0)
    link(a, b, 2.0)
    link(b, a, 2.0)
    link(a, chain[0], 1.0)
    link(b, chain[0], 1.0)
    for prev, nxt in itertools.pairwise(chain):
        link(prev, nxt, 2.0)
