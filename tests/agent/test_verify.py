from agent.models.llama_buffers import extra_buffers_wanted
from agent.verify import answer_contradicts_output, code_numbers, question_numbers, unused_numbers

MOVIE = (
    "James creates a movie for $2000. Each DVD cost $6 to make. He sells it for 2.5 times that "
    "much. He sells 500 movies a day for 5 days a week. How much profit does he make in 20 weeks?"
)


def test_question_numbers_keep_thousands_decimals_and_percent():
    found = question_numbers("1,200 people paid $3.50 each, 15% got 2 off, 2 left.")
    assert found == [("1,200", 1200.0), ("3.50", 3.5), ("15%", 15.0), ("2", 2.0)]


def test_code_numbers_skip_comments_and_strings():
    code = 'cost = 6  # the movie was 2000\nlabel = "500 a day"\nprint(1_000 * 2.5, 3e2)'
    assert code_numbers(code) == {6.0, 1000.0, 2.5, 300.0}


def test_code_numbers_of_broken_code_fall_back_to_a_regex():
    assert code_numbers("x = (2000 +\n# 7\n") == {2000.0}


def test_the_ignored_fixed_cost_is_reported():
    code = "price = 2.5 * 6\nprint(500 * 5 * 20 * (price - 6))"
    assert unused_numbers(MOVIE, [code]) == ["2000"]


def test_numbers_used_in_any_run_count_and_percent_may_be_a_fraction():
    question = "A $40 shirt is 25% off and 1 of 3 friends pays. What does each pay?"
    assert unused_numbers(question, ["p = 40 * (1 - 0.25)", "print(p / 3)"]) == []
    assert unused_numbers(question, ["print(40 * 0.75)"]) == ["25%", "3"]


def test_extra_buffers_off_where_amx_is_advertised(monkeypatch):
    monkeypatch.delenv("CODEXEC_EXTRA_BUFFERS", raising=False)
    assert extra_buffers_wanted("flags\t\t: fpu sse avx2 avx512f amx_tile amx_int8\n") is False
    assert extra_buffers_wanted("flags\t\t: fpu sse avx2 avx512f\n") is True
    monkeypatch.setenv("CODEXEC_EXTRA_BUFFERS", "1")
    assert extra_buffers_wanted("flags\t\t: amx_tile\n") is True


def test_an_answer_contradicts_an_output_that_does_not_show_its_numbers() -> None:
    contradicts = answer_contradicts_output
    assert contradicts("30", "49\n")
    assert contradicts("62,365,030.33", "623,650,303.53\n")  # a misplaced comma
    assert contradicts("40", "1.6\n")
    assert not contradicts("8", "8.0\n") and not contradicts("105", "104.996\n")
    assert not contradicts("0.88", "0.882081\n")  # rounded to the answer's own decimals
    assert not contradicts("1995-09-21", "1995-09-21\n")
    assert not contradicts("-9.81818", "[{x: 16/11, y: -15/11}] ['-9.81818']\n")
    assert not contradicts("blueSkyOverTheHills", "blue_sky\n")  # no number: not judged
    assert not contradicts("12", "no numbers here\n")
