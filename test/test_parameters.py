"""How given parameter values are taken (seg_ros.parameters.coerce, pure logic)."""
import pytest

from seg_ros.parameters import coerce, require_positive


@pytest.mark.parametrize("default,given,taken", [
    (30.0, 15, 15.0),            # rate:=15 means 15.0
    (30.0, 12.5, 12.5),
    (0, 1.5e6, 1500000),         # bitrate: 1.5e6 in YAML
    (23, 30, 30),
    ("", 0, "0"),                # a V4L2 device index given as uri:=0
    ("camera", "cam2", "cam2"),
    (True, False, False),
])
def test_values_are_taken_as_meant(default, given, taken):
    value = coerce("p", default, given)
    assert value == taken and type(value) is type(taken)


@pytest.mark.parametrize("default,given,message", [
    (30.0, "fast", "parameter 'rate' must be a number, got 'fast' (str)"),
    (30.0, True, "parameter 'rate' must be a number, got True (bool)"),
    (23, 2.5, "parameter 'rate' must be an integer, got 2.5 (float)"),
    (True, 1, "parameter 'rate' must be a boolean (true/false), got 1 (int)"),
    ("", 1.5, "parameter 'rate' must be a string, got 1.5 (float)"),
    ("", [1, 2], "parameter 'rate' must be a string, got [1, 2] (list)"),
])
def test_other_mismatches_are_one_clear_error(default, given, message):
    with pytest.raises(ValueError) as err:
        coerce("rate", default, given)
    assert str(err.value) == message


def test_require_positive_names_the_first_bad_value():
    require_positive({"rate": 2.0, "window_s": 1}, "rate", "window_s")
    with pytest.raises(ValueError, match=r"^window_s 0 must be > 0$"):
        require_positive({"rate": 2.0, "window_s": 0}, "rate", "window_s")
