"""Held-out prompts made from the data: none of them may be a near-copy of a trained prompt,
or the doctor would measure memorisation (and call it PROBES_LEAK)."""

from lorastudio.data.filters import leaks
from lorastudio.data.heldout import make_heldout, unseen
from lorastudio.data.records import Dataset, Sample


def _sample(i: int, prompt: str, answer: str) -> Sample:
    return Sample([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}], i)


def _templated() -> Dataset:
    # Data with one repeated template: every other prompt differs from its neighbour by one word.
    cities = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Tokyo", "Quito", "Delhi", "Seoul", "Hanoi"]
    samples = []
    for i, city in enumerate(cities):
        samples.append(_sample(2 * i, f"Tell me about the weather in {city} today please.", f"Sunny in {city}."))
        samples.append(_sample(2 * i + 1, f"Tell me about the weather in {city} today, please!", f"Rain in {city}."))
    samples.append(_sample(20, "Write a haiku about autumn leaves falling slowly.", "Red leaves drift..."))
    samples.append(_sample(21, "What is the boiling point of water at sea level?", "100 degrees Celsius."))
    return Dataset("t.json", "alpaca", samples)


def test_unseen_drops_prompts_that_copy_a_trained_one():
    data = _templated()
    held = [s for s in data.samples if s.index % 2 == 1 or s.index >= 20]
    trained = [s.prompt for s in data.samples if s not in held]
    kept = unseen(held, trained)
    assert {h.index for h in kept} == {20, 21}  # the ten near-copies are gone, the two new prompts stay
    assert len(unseen(held)) == len(held)  # without training prompts there is nothing to leak against


def test_no_heldout_prompt_leaks_into_training():
    data = _templated()
    eval_idx = {1, 3, 5, 20, 21}
    train_idx = {s.index for s in data.samples} - eval_idx
    held = make_heldout(data, train_idx, eval_idx, k=8, seed=0)
    trained = [s.prompt for s in data.samples if s.index in train_idx]
    assert [h for h in held if h.kind == "unseen"], held
    assert leaks([h.prompt for h in held], trained) == []
