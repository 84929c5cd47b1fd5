"""An entity page read in French is French throughout: not only the labels and the group headings but the
page's own words (its <html lang> says fr, so a screen reader reads them with a French voice)."""

from __future__ import annotations

import re

from ld_sample_data import sample_app

ENGLISH = ("Referred to by", "This page as data", "Where these statements come from", "Timeline")
FRENCH = ("Mentionné par", "Cette page en données", "Provenance de ces déclarations", "Chronologie")


def test_the_page_words_follow_the_reader_language():
    c = sample_app().test_client()
    fr = c.get("/doc/agency/ankara-police?lang=fr").get_data(as_text=True)
    assert re.search(r'<html lang="fr"', fr)
    for en_word, fr_word in zip(ENGLISH, FRENCH):
        assert fr_word in fr and en_word not in fr, fr_word
    en = c.get("/doc/agency/ankara-police", headers={"Accept": "text/html", "Accept-Language": "en"}).get_data(as_text=True)
    for en_word, fr_word in zip(ENGLISH, FRENCH):
        assert en_word in en and fr_word not in en, en_word
