

def test_scroll_step_grows_while_held_within_a_fortieth_of_the_stack() -> None:
    from tuipacs.view.state import scroll_step

    assert [scroll_step(r, 300) for r in (0, 7, 8, 15, 16, 47, 48, 10**6)] == [
        1, 1, 2, 2, 3, 6, 7, 7,
    ]  # fmt: skip
    assert {scroll_step(r, 79) for r in range(200)} == {1}
    assert scroll_step(-5, 300) == 1 and scroll_step(100, 0) == 1
    # a 300-image pass at 30 presses a second: about 2 s instead of 10
    done, presses = 0, 0
    while done < 300:
        done += scroll_step(presses, 300)
        presses += 1
    assert presses <= 70
