"""The answer extractor on a table of crafted generations: it must name the option only when the text does."""

import pytest

from bench.tasks.answer_extraction import (
    AMBIGUOUS,
    EMPTY,
    INVALID_LETTER,
    NO_ANSWER,
    OK,
    UNCLOSED_THINK,
    extract_choice,
    split_reasoning,
)

OPTS = ["The grandfather", "The grandson", "Can't be determined"]

# (generation, expected choice index or None, expected status)
TABLE = [
    # explicit statements
    ("Answer: B", 1, OK),
    ("Answer: (C)", 2, OK),
    ("answer: a", 0, OK),
    ("The answer is A.", 0, OK),
    ("The correct answer is (B).", 1, OK),
    ("**Answer:** C", 2, OK),
    ("Final answer: B) The grandson", 1, OK),
    ("I choose C.", 2, OK),
    ("\\boxed{B}", 1, OK),
    ("My answer would be A because he forgot.", 0, OK),
    ("Answer: B\nAnswer: C", None, AMBIGUOUS),
    ("Answer: D", None, INVALID_LETTER),
    ("Answer: I think it is the second one", None, NO_ANSWER),  # "I" is not a letter here
    # lettered forms without a statement
    ("(B)", 1, OK),
    ("B)", 1, OK),
    ("B", 1, OK),
    ("C.", 2, OK),
    ("  A  ", 0, OK),
    ("A. The grandfather", 0, OK),
    ("B: he is younger", 1, OK),
    ("It must be (A), the older man.", 0, OK),
    ("(A) or (B)", None, AMBIGUOUS),
    ("A or B", None, AMBIGUOUS),
    ("A, B", None, AMBIGUOUS),
    ("A/C", None, AMBIGUOUS),
    ("(A) The grandfather\n(B) The grandson", None, AMBIGUOUS),
    ("E", None, INVALID_LETTER),
    # unicode letters
    ("Ｂ", 1, OK),
    ("Answer: Ｃ", 2, OK),
    ("Ⓐ", 0, OK),
    ("Answer:\u00a0B", 1, OK),
    # empty and letterless outputs
    ("", None, EMPTY),
    ("   \n ", None, EMPTY),
    ("I am not sure what you mean.", None, NO_ANSWER),
    ("A man walked into a bar.", None, NO_ANSWER),
    # the option's own text instead of its letter
    ("The grandson", 1, OK),
    ("It was the grandfather who forgot.", 0, OK),
    ("can't be determined", 2, OK),
    ("Either the grandfather or the grandson.", None, AMBIGUOUS),
    # reasoning blocks
    ("<think>Maybe A? No.</think>\nAnswer: B", 1, OK),
    ("<think>The answer is A.</think>", None, EMPTY),
    ("<think>I lean towards A but let me check", None, UNCLOSED_THINK),
    ("<think>Answer: C</think> The grandson", 1, OK),
    ("Hmm, the text says nothing about age.</think>\n\nC", 2, OK),  # template opened the block
    ("<think>long reasoning cut by the budget\n</think>\n\nAnswer: A", 0, OK),  # budget-forced close
    ("<think>first</think> draft <think>second A</think> Answer: C", 2, OK),
    ("<think>truncated think block\n</think>\n\n", None, EMPTY),
    ("<think>A</think>Answer: B or C", None, AMBIGUOUS),
    ("<think>A</think>Answer: B", 1, OK),
]


def test_table_is_large_enough():
    assert len(TABLE) >= 40


@pytest.mark.parametrize(("text", "choice", "status"), TABLE)
def test_extract(text, choice, status):
    got = extract_choice(text, OPTS)
    assert (got.choice, got.status) == (choice, status), got


def test_letters_follow_the_number_of_options():
    assert extract_choice("C", ["yes", "no"]).status == INVALID_LETTER
    assert extract_choice("B", ["yes", "no"]).choice == 1


def test_option_text_contained_in_another_yields_to_the_longer_one():
    opts = ["Not known", "Not known to anyone", "The doctor"]
    assert extract_choice("Not known to anyone", opts).choice == 1


def test_split_reasoning():
    r = split_reasoning("<think>step 1\nstep 2</think>\nB")
    assert (r.reasoning, r.answer, r.has_block, r.closed) == ("step 1\nstep 2", "B", True, True)
    r = split_reasoning("no block here")
    assert (r.has_block, r.answer) == (False, "no block here")
    r = split_reasoning("<think>still thinking")
    assert (r.has_block, r.closed, r.answer) == (True, False, "")
