"""Nearest annotated point of the same class: indices, distances, tie rule, is-self form."""
import math

import torch

from pointdet.layers.nearest import nearest_is_self, nearest_same_class

REF = torch.tensor([[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [20.0, 0.0]])
REF_CLS = torch.tensor([0, 0, 1, 0])


def test_nearest_same_class_hand_values():
    q = torch.tensor([[1.0, 0.0], [9.0, 1.0], [6.0, 4.0], [16.0, 3.0], [4.0, 0.0]])
    qc = torch.tensor([0, 0, 0, 0, 1])
    idx, dist = nearest_same_class(q, qc, REF, REF_CLS)
    # (6, 4) is nearest to (5, 5) of class 1, but its class-0 nearest is (10, 0)
    assert idx.tolist() == [0, 1, 1, 3, 2]
    exp = [1.0, math.sqrt(2), math.sqrt(32), 5.0, math.sqrt(26)]
    assert torch.allclose(dist, torch.tensor(exp))


def test_ties_go_to_lower_index_and_missing_class():
    q = torch.tensor([[5.0, 0.0], [15.0, 0.0], [1.0, 1.0]])
    idx, dist = nearest_same_class(q, torch.tensor([0, 0, 2]), REF, REF_CLS)
    assert idx.tolist() == [0, 1, -1]  # equidistant: (0,0) over (10,0); (10,0) over (20,0)
    assert dist[:2].tolist() == [5.0, 5.0] and math.isinf(dist[2].item())
    idx, dist = nearest_same_class(q, torch.tensor([0, 0, 0]), REF[:0], REF_CLS[:0])
    assert idx.tolist() == [-1, -1, -1]


def test_chunks_give_the_same_answer():
    g = torch.Generator().manual_seed(0)
    q = torch.rand(257, 2, generator=g) * 50
    qc = torch.randint(0, 3, (257,), generator=g)
    r = torch.rand(13, 2, generator=g) * 50
    rc = torch.randint(0, 3, (13,), generator=g)
    a = nearest_same_class(q, qc, r, rc)
    b = nearest_same_class(q, qc, r, rc, chunk_elements=13 * 7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # brute force
    d = torch.cdist(q.double(), r.double())
    d[qc[:, None] != rc[None, :]] = float("inf")
    exp = torch.where(torch.isinf(d.min(1).values), torch.tensor(-1), d.argmin(1))
    assert torch.equal(a[0], exp)


def test_nearest_is_self_tie_rule():
    # bag points of object 1 at (10, 0): (5, 0) ties with object 0 -> not self; (15, 0) ties with
    # object 3 at (20, 0) -> self (lower index wins); (10, 5) is nearer to (5, 5) but that is class 1
    bags = torch.tensor([[[5.0, 0.0], [15.0, 0.0], [10.0, 5.0]]])
    owner = torch.tensor([[1, 1, 1]])
    assert nearest_is_self(bags, owner, REF, REF_CLS).tolist() == [[False, True, True]]
    owner3 = torch.tensor([[3, 3, 3]])
    assert nearest_is_self(bags, owner3, REF, REF_CLS).tolist() == [[False, False, False]]
