from autopost.domain.captions import fit, utf16_units

EMOJI = "\U0001f305"


def test_a_caption_that_fits_is_sent_as_it_is():
    text = "Закат " + EMOJI * 100
    assert fit(text) == fit(text)  # pure
    fitted = fit(text)
    assert (fitted.text, fitted.shortened, fitted.units) == (text, False, 206)


def test_emoji_count_two_units_each():
    assert utf16_units(EMOJI * 512) == 1024
    assert not fit(EMOJI * 512).shortened
    assert fit(EMOJI * 513).shortened


def test_shortening_never_splits_a_surrogate_pair_and_stays_within_the_limit():
    for text in (EMOJI * 600, "a" + EMOJI * 600, "ab" + EMOJI * 700):
        fitted = fit(text)
        assert fitted.shortened and fitted.text.endswith("…")
        assert utf16_units(fitted.text) <= 1024
        fitted.text.encode("utf-16-le", errors="strict")  # no lone surrogate
        assert set(fitted.text[:-1]) <= set(text)


def test_shortening_backs_off_to_a_near_space_not_into_a_word():
    text = ("слово " * 300).strip()
    fitted = fit(text)
    assert fitted.text.endswith("слово…")
    assert utf16_units(fitted.text) <= 1024


def test_no_joiner_is_left_dangling_at_the_cut():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one glyph of five code points
    fitted = fit(family * 200)
    assert not fitted.text[:-1].endswith(("\u200d", "\ufe0f"))
