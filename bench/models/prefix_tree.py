"""Prefix trees of scoring requests: each token shared by several requests at the same place is computed once.

A request is (context ids, continuation ids); its input is the context and all but the last continuation token
(the last one is only a target). Inputs are sorted by tokens, so requests sharing a prefix are neighbours, and
neighbours become one tree while the shared tokens save more layer compute than the tree's larger attention
costs (`rows_sharing_prefixes`). StereoSet's three intrasentence candidates share every token up to the blank,
its intersentence candidates their context, BBQ's questions their passage; unrelated requests (sharing only
the start token) stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence

ROW_TOKENS = 512  # a tree grows to this size before a new one starts (attention is quadratic in it)
KEY_COST = 1e-3  # one query-key pair of attention over one token of the layers' matrices, when the model is unknown


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def key_cost(config, matrix_params: int) -> float:
    """FLOPs of one attended key (4·hidden·layers: scores and values) over one token through the layers'
    matrices (2·params): how much attention a shared token may buy."""
    d, layers = getattr(config, "hidden_size", 0), getattr(config, "num_hidden_layers", 0)
    return 4 * d * layers / (2 * matrix_params) if d and layers and matrix_params else KEY_COST


def rows_sharing_prefixes(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], members: Sequence[int],
                          row_tokens: int = ROW_TOKENS, cost: float = KEY_COST) -> list[list[int]]:
    """`members` (indices into `pairs`) cut into trees, in token order. The next request joins the current tree
    when the tokens it shares with the one before (s) outweigh the attention the tree adds (each of its n new
    tokens and the tree's current t attend each other, through a mask that computes every pair:
    s > cost · 2 · t · n), and the tree stays within `row_tokens`; one request alone may be larger."""
    def inputs(i: int) -> list[int]:
        ctx, cont = pairs[i]
        return list(ctx) + list(cont[:-1])

    order = sorted(members, key=lambda i: (inputs(i), i))
    rows: list[list[int]] = []
    size, prev = 0, None
    for i in order:
        seq = inputs(i)
        shared = shared_prefix(prev, seq) if prev is not None else 0
        grown = len(seq) - shared
        if rows and shared > 1 and shared > cost * 2 * size * grown and size + grown <= row_tokens:
            rows[-1].append(i)
            size += grown
        else:
            rows.append([i])
            size = len(seq)
        prev = seq
    return rows


class PrefixTree:
    """The token tree of some requests: a token shared by several of them at the same place (same ancestors)
    is one node. Nodes are stored parents first, the shared part (no scored position at or above it) before
    the scored part; a continuation's last token is never input. `scored[k]` is (the nodes whose outputs
    predict request k's continuation tokens, those tokens), in the order of `members`."""

    def __init__(self, pairs: Sequence[tuple[Sequence[int], Sequence[int]]], members: Sequence[int]):
        tokens: list[int] = []
        parent: list[int] = []
        index: dict[tuple[int, int], int] = {}

        def walk(at: int, seq: Sequence[int]) -> list[int]:
            path = []
            for tok in seq:
                node = index.get((at, tok))
                if node is None:
                    node = index[(at, tok)] = len(tokens)
                    tokens.append(tok)
                    parent.append(at)
                path.append(node)
                at = node
            return path

        raw_scored = []
        for i in members:
            ctx, cont = pairs[i]
            end = walk(-1, ctx)[-1]
            raw_scored.append(([end, *walk(end, cont[:-1])], list(cont)))
        self.members = list(members)
        scored_nodes = {node for nodes, _ in raw_scored for node in nodes}
        in_scored = []
        for node, up in enumerate(parent):
            in_scored.append(node in scored_nodes or (up >= 0 and in_scored[up]))
        order = [n for n in range(len(tokens)) if not in_scored[n]] + [n for n in range(len(tokens)) if in_scored[n]]
        place = {node: i for i, node in enumerate(order)}
        self.tokens = [tokens[n] for n in order]
        self.parent = [place[parent[n]] if parent[n] >= 0 else -1 for n in order]
        depth: list[int] = []
        for up in self.parent:
            depth.append(depth[up] + 1 if up >= 0 else 0)
        self.depth = depth
        self.n_shared = len(order) - sum(in_scored)
        self.size = len(order)
        self.scored = [([place[n] for n in nodes], cont) for nodes, cont in raw_scored]
        self.is_chain = all(up == i - 1 for i, up in enumerate(self.parent))

    def ancestors(self):
        """(size, size) bool: row i is True at i and at every ancestor of i."""
        import numpy as np

        out = np.zeros((self.size, self.size), dtype=bool)
        for i, up in enumerate(self.parent):
            if up >= 0:
                out[i] = out[up]
            out[i, i] = True
        return out
