"""Deterministic clustering of texts into categories, for datasets without a `category` field:
TF-IDF of character n-grams (words for English) and k-means on cosine similarity, with no
random state.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .language import detect_lang, normalize


def _ngrams(text: str) -> list[str]:
    """Character 1- and 2-grams for Chinese, words and word pairs for English."""
    t = normalize(text)
    if detect_lang(t) == "en":
        words = t.split()
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    t = t.replace(" ", "")
    return list(t) + [t[i: i + 2] for i in range(len(t) - 1)]


def cluster(texts: list[str], k: int | None = None, iterations: int = 20) -> tuple[list[int], list[str]]:
    """Group texts by TF-IDF of character n-grams with k-means (cosine), deterministically.

    k defaults to round(sqrt(n / 2)), at least 1. Initial centres are chosen farthest-first
    starting from text 0, so there is no random state. Returns each text's cluster index and a
    name per cluster: "auto-<i>-<its heaviest n-gram>".
    """
    n = len(texts)
    if n == 0:
        return [], []
    k = max(1, min(n, k if k is not None else round(math.sqrt(n / 2))))
    grams = [Counter(_ngrams(t)) for t in texts]
    vocab = sorted({g for c in grams for g in c})
    index = {g: i for i, g in enumerate(vocab)}
    tf = np.zeros((n, len(vocab)))
    for row, counts in enumerate(grams):
        for g, c in counts.items():
            tf[row, index[g]] = c
    df = (tf > 0).sum(axis=0)
    x = tf * (np.log((1 + n) / (1 + df)) + 1)  # smoothed idf, as scikit-learn's default
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    centres = [0]
    for _ in range(1, k):
        sim = (x @ x[centres].T).max(axis=1)
        centres.append(int(np.argmin(sim)))
    c = x[centres].copy()
    labels = np.zeros(n, dtype=int)
    for _ in range(iterations):
        new = np.argmax(x @ c.T, axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
                c[j] /= max(np.linalg.norm(c[j]), 1e-12)
    # Number the clusters in order of first appearance, and name each by its heaviest n-gram
    # of two or more characters (or words) when there is one.
    order = list(dict.fromkeys(labels.tolist()))
    names = []
    for new_id, old in enumerate(order):
        weights = x[labels == old].sum(axis=0)
        ranked = [vocab[i] for i in np.argsort(-weights, kind="stable")]
        top = next((g for g in ranked if len(g) >= 2 and " " not in g[:1]), ranked[0])
        names.append(f"auto-{new_id + 1}-{top}")
    remap = {old: new for new, old in enumerate(order)}
    return [remap[label] for label in labels.tolist()], names
