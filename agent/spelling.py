"""Misspelt words put right against the data's own words before a question is read.

"conversoin rate for affilate links", "why did sigups tank in augst": a marketer types fast. A
word that is not one we know and is one or two letters from a word the data or the questions'
vocabulary holds (event names, channels, devices, attribute values, months, the words of
journey questions) is read as that word; the frame notes each change, so a wrong guess shows.
A correctly spelt English word is left alone, however close it is to a data word.
"""

from __future__ import annotations

import difflib
import functools
import re

from spellchecker import SpellChecker

from agent.periods import MONTHS
from agent.vocabulary import tokens

# The words journey questions are made of, beyond the data's own (so they can be recognised
# when misspelt, and are never "corrected" into something else).
QUESTION_WORDS = set("""
difference differences different differ differs
conversion conversions convert converts converted converting rate rates share percentage
signup signups sign registration registrations register onboarding onboard activation
activate activated subscription subscriptions subscribe subscribed subscriber subscribers
checkout checkouts cart basket purchase purchases purchased order orders ordered revenue
customer customers users people visitors accounts account leads prospects members buyers
churn churned churning churners cancel cancelled canceled cancels cancellation cancellations
retention retained retain renewal renewals renew trial trials paying payment payments pricing
funnel funnels journey journeys paths path segment segments segmentation cohort cohorts
attribution channel channels campaign campaigns budget marketing traffic source sources
device devices mobile desktop android tablet platform feedback complaints complain complaining
reviews review tickets ticket survey surveys themes theme friction problem problems issue issues
drop dropped dropping dropoff drops decline declined improve improved increase increased
happened changed change changes anomaly anomalies spike spikes compare compared comparison
versus between during quarter quarterly monthly weekly yearly annual week weeks month months
days year today yesterday average median typical common most least highest lowest biggest
worst best better worse should would could which where what when why how many much long
predict predicts prediction driver drivers reason reasons because explain breakdown region
regions country countries enterprise report reports invite invites teammate colleague
sessions session visit visits engagement engaged active inactive dormant lapsed repeat
recommend action actions contact prioritise prioritize risk opportunity opportunities
proposal proposals demo demos pipeline stage stages affiliate organic referral newsletter
collapse collapsed collapsing plummet plummeted plunge plunged tanked falling dipped
""".split()) | set(MONTHS)
# Everyday words: never "corrected" (early is not yearly), and never a correction either
# (losing is not closing).
COMMON_WORDS = set("""
early earlier later latest magic moment moments actually really hearing heard think thinks
thought thing things there their these those where while about after again other never always
every still since until before being doing going getting making taking seeing looking happy
unhappy angry start started ended money spend spending leave leaving stuck small large bigger
great thanks please slide email click clicks place placed buying bought brings bring month
total value price prices priced tried trying error errors broken fixed failing failed point
points level levels team teams boss deck truly true false really quite maybe right wrong least
number numbers figure figures graph chart table split splits group groups kind kinds sort type
types exactly basically somehow somewhat around above below under over into onto within without
across along among against between behind beyond during toward towards upon whether either
neither another others anyone someone everyone nobody nothing something anything everything
making helps helped helping matter matters worth useful lower upper higher newer older fresh
steady stable growing grown shrink shrinking flat spring summer autumn winter season weekend
morning evening night daily hourly period periods window windows stage phase phases step steps
trend trends story stories reason guess sense signal signals cliff spike crash outage incident
launch launched release released version versions update updated change tested testing test
tests variant variants control holdout experiment experiments offer offers discount discounts
coupon coupons email emails newsletter social search paid ads advert adverts display video
send sends sending sent spend spends spent close closes closing closed
""".split())


def known_words(events: list[str], values: list[str]) -> set[str]:
    return set(QUESTION_WORDS) | data_words(events, values)


def data_words(events: list[str], values: list[str]) -> set[str]:
    """The words of the data's own names (events, values, attributes)."""
    return {t for name in list(events) + list(values) for t in tokens(name) if t.isalpha()}


def correct(question: str, known: set[str], data: set[str] | None = None) -> tuple[str, list[str]]:
    """The question with misspelt words replaced, and a note per replacement. An everyday
    word is a correction only where the data use it ("serch" is organic_search's search)."""
    data = data or set()
    candidates = sorted(w for w in known if len(w) >= 4 and (w not in COMMON_WORDS or w in data))
    notes: list[str] = []

    def fix(m: re.Match) -> str:
        word = m.group(0)
        low = word.lower()
        if len(low) < 5 or low in known or low in COMMON_WORDS or _inflected(
                low, known | COMMON_WORDS):
            return word
        swapped = {low[:i] + low[i + 1] + low[i] + low[i + 2:] for i in range(len(low) - 1)}
        if low not in data and is_english(low):
            # A word as spelt ("remembers" is not a misspelt "members"), unless two letters
            # swapped make a word of the data: "trail to paid" is the trial.
            close = sorted(w for w in swapped if w in data or (w.endswith("s") and w[:-1] in
                                                                data))  # "trails": trials
        else:
            # Two letters swapped first ("methdo" is "method"), then the fewest edits among
            # the closest ("convertion" is conversion, not converting). (Never English at
            # large: "zapier" would become "rapier".)
            close = sorted(swapped & set(candidates)) or sorted(
                difflib.get_close_matches(low, candidates, n=3, cutoff=0.85),
                key=lambda w: _edits(low, w))[:1]
        if not close or abs(len(close[0]) - len(low)) > 2:
            return word
        notes.append(f"'{word}' read as '{close[0]}'")
        return close[0]

    text = re.sub(r"[A-Za-z]+", fix, question)
    return text, notes


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


@functools.cache
def _english() -> SpellChecker:
    # pyspellchecker's English word list ships inside the package: nothing is downloaded.
    return SpellChecker(language="en", distance=1)


def is_english(word: str) -> bool:
    """An English word as spelt (in any form the dictionary lists: "remembers", "churners")."""
    return word.lower() in _english()


def _inflected(word: str, known: set[str]) -> bool:
    """A plural or tense of a known word is known ("reports", "dropped", "signing")."""
    for ending in ("s", "es", "ed", "d", "ing", "ly", "er", "ers"):
        if word.endswith(ending) and word[: -len(ending)] in known:
            return True
        if word + ending in known:  # "create" where the data say "created"
            return True
    return word.endswith("ing") and word[:-3] + "e" in known  # "creating"
