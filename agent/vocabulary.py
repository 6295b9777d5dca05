"""The steps a question names by loose words, resolved against the store's own event names.

A marketer says "paying", "the checkout step", "added to basket", "trial", "activation", "MQL to
SQL" or "sign-ups"; the store says `subscription_started`, "Checkout Opened", "Added To Cart",
`trial_begun`, "MQL". Each event gets the phrases people use for it, from its own name (any
casing: snake_case, Title Case, camelCase, `$pageview`), without the verb that only says it
happened ("Product Viewed" -> "product"), and from everyday synonyms ("basket" -> cart). The
roles come from the journey model: "paying", "buy", "won" mean the conversion event, "cancel" and
"churn" the churn event, whatever they are called. A stage word ("activation", "onboarding")
means the main-journey step in that stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words in an event name that only say the thing happened: "Order Completed" is the order.
HAPPENED = {"view", "viewed", "views", "started", "start", "completed", "complete", "created",
            "create", "opened", "open", "shown", "show", "begun", "begin", "submitted", "submit",
            "clicked", "click", "visit", "visited", "page", "selected", "done", "finished",
            "sent", "requested", "request", "added", "viewing", "launched", "first"}
# Names so generic alone that they would match half the questions.
TOO_GENERIC = {"app", "home", "page", "account", "user", "event", "session", "item", "new",
               "first", "mobile", "web", "email", "payment", "to", "the", "a", "error", "data"}
# Everyday word (regex over the question) -> name fragments it means, in order of preference.
SYNONYMS: list[tuple[str, tuple[str, ...]]] = [
    (r"sign(?:ing)?[ -]?ups?|signed up|registrations?|register(?:ed|ing)?|sign(?:ing)? up",
     ("signup", "sign_up", "signed_up", "sign up", "register", "account_created",
      "account created", "lead_created", "lead created")),
    (r"create (?:an |their )?accounts?|new accounts?|account creation",
     ("account_created", "account created", "signup", "sign_up")),
    (r"baskets?|bags?|carts?|atc|add[ -]to[ -]carts?", ("cart",)),
    (r"check[ -]?outs?", ("checkout", "check_out")),
    (r"trials?", ("trial",)),
    (r"paywalls?", ("paywall",)),
    (r"pricing(?: page)?|price page|plans page", ("pricing", "paywall", "plans")),
    (r"demos?", ("demo",)),
    (r"(?:finish|finished|finishes|complete|completed|completes|completing|finishing) "
     r"(?:the |their )?onboarding|onboarding (?:completed|complete|finished|done)",
     ("onboarding_completed", "onboarding completed", "onboarding")),
    (r"onboard(?:ing)?", ("onboarding",)),
    (r"quotes?|proposals?", ("proposal", "quote")),
    (r"opportunit(?:y|ies)|opps?", ("opportunity",)),
    (r"mqls?|marketing[ -]qualified", ("mql",)),
    (r"sqls?|sales[ -]qualified", ("sql",)),
    (r"leads?", ("lead_created", "lead created", "lead")),
    (r"product (?:page|view|detail)s?|view(?:ing|ed)? (?:a )?products?|pdps?|"
     r"product detail pages?", ("product",)),
    (r"expir(?:e|es|ed|y|ing|ation|ations)", ("expired", "expire", "expiry")),
    (r"sub|subscriptions?", ("subscription_purchased", "subscription_started", "subscription",
                             "subscribe")),
    (r"(?:first )?reports?", ("report",)),
    (r"invit(?:e|es|ing|ations?)", ("invite",)),
    (r"install(?:s|ed|ing)?|launch(?:es|ed)?|open(?:s|ed)? the app", ("app_launched", "install",
                                                                      "app launched")),
    (r"landing(?: page)?s?|landed|lands? on", ("landing",)),
    (r"returns?|refunds?", ("return", "refund")),
    (r"reviews?", ("review",)),
    (r"workouts?", ("workout",)),
    (r"renew(?:al|als|ed|s)?", ("renew",)),
    (r"support|tickets?|contact(?:ed)? support", ("support", "ticket")),
    (r"payments? (?:failed|failures?|declined|fail\w*)|failed payments?|"
     r"declined (?:cards?|payments?)",
     ("payment_failed", "payment declined", "declined")),
]
ROLE_WORDS = {
    "conversion": r"pay(?:ing|s)?\b|paid\b|purchas\w*|buy\w*|bought|convert\w*|conversions?|"
                  r"subscri\w*|upgrad\w*|order(?:s|ed|ing)?\b|sales?\b|won\b|wins?\b|"
                  r"closed[ -]won|clos(?:e|es|ed|ing)\b|"
                  r"customers? (?:won|acquired)|revenue",
    "churn": r"churn\w*|cancel\w*|unsubscri\w*|quit\w*|leav(?:e|ing) us|left us",
}


@dataclass
class StepMention:
    event: str
    start: int  # where in the question it was named (steps keep the question's order)
    words: str  # what the question said
    how: str  # "name", "synonym", "role", "stage"


def tokens(event: str) -> list[str]:
    """An event name's words, whatever its casing: "Added To Cart" and addedToCart -> added,
    to, cart; `$pageview` -> pageview."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", event.lstrip("$"))
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def phrases(event: str) -> set[str]:
    """What people call the event: its words, and its words without the ones that only say it
    happened ("Order Completed" -> "order completed", "order"; plurals too)."""
    words = tokens(event)
    out = {" ".join(words), event.lower(), event.lower().replace("_", " ")}
    content = [w for w in words if w not in HAPPENED]
    if content and content != words:
        core = " ".join(content)
        if core not in TOO_GENERIC and len(core) > 2:
            out.add(core)
    for phrase in list(out):
        if not phrase.endswith("s"):
            out.add(phrase + "s")
    return {p for p in out if p}


def _normal(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9$]+", " ", text.lower()) + " "


def find_steps(question: str, events: list[str], popularity: dict[str, int],
               roles: dict[str, str | None], stage_steps: dict[str, str]) -> list[StepMention]:
    """The steps a question names, in the order it names them (each event once)."""
    text = _normal(question)
    taken: list[tuple[int, int]] = []
    found: dict[str, StepMention] = {}

    def claim(start: int, end: int, event: str, words: str, how: str) -> None:
        if any(a < end and start < b for a, b in taken):
            return
        taken.append((start, end))
        if event not in found:
            found[event] = StepMention(event, start, words.strip(), how)

    by_phrase: list[tuple[str, str]] = sorted(
        ((p, e) for e in events for p in phrases(e)),
        key=lambda pe: (-len(pe[0]), -popularity.get(pe[1], 0)))
    normal_events = {e: " ".join(tokens(e)) for e in events}
    for event in events:
        # "finish onboarding" is onboarding_completed, before "onboarding" names the start.
        words = tokens(event)
        if len(words) >= 2 and words[-1] in ("completed", "complete", "finished", "done"):
            core = " ".join(words[:-1])
            for m in re.finditer(rf"(?<=[ ])(?:finish|finished|finishes|finishing|complete|"
                                 rf"completed|completes|completing) (?:the |their |an? )?"
                                 rf"{re.escape(core)}s?(?=[ ])", text):
                claim(m.start(), m.end(), event, m.group(0), "synonym")
    # Two- and three-word names in another form or order, before single words claim a part.
    for event, start, end, words in _stem_matches(text, events):
        claim(start, end, event, words, "synonym")
    for phrase, event in by_phrase:
        for m in re.finditer(rf"(?<=[ ]){re.escape(phrase)}(?=[ ])", text):
            claim(m.start(), m.end(), event, phrase, "name")
    for pattern, fragments in SYNONYMS:
        for m in re.finditer(rf"(?<=[ ])(?:{pattern})(?=[ ])", text):
            event = _by_fragment(fragments, normal_events, popularity)
            if event:
                claim(m.start(), m.end(), event, m.group(0), "synonym")
    for role, pattern in ROLE_WORDS.items():
        event = roles.get(role)
        if not event:
            continue
        for m in re.finditer(rf"(?<=[ ])(?:{pattern})", text):
            claim(m.start(), m.end(), event, m.group(0), "role")
    for stage, event in stage_steps.items():
        for m in re.finditer(rf"(?<=[ ]){re.escape(stage.lower())}(?=[ ])", text):
            claim(m.start(), m.end(), event, stage, "stage")
    return sorted(found.values(), key=lambda s: s.start)


def _stem(word: str) -> str:
    """A crude stem, enough to meet an event name in another tense or order: "invited",
    "invites", "inviting" -> "invit"; "trials" -> "trial"; "expire", "expired" -> "expir"."""
    for ending in ("ing", "ed", "es", "s", "e"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


ARTICLES = {"a", "an", "the", "their", "our", "my", "your", "his", "her", "its", "to"}
RELATIVES = {"that", "which"}
AUXILIARIES = {"got", "get", "gets", "were", "was", "are", "is", "have", "has", "had", "been",
               "being"}


def _stem_matches(text: str, events: list[str]) -> list[tuple[str, int, int, str]]:
    """Events of two or three words named in other forms or another order: "a teammate
    invited" is invite_teammate, "trials expire" is trial_expired."""
    # "leads that got recycled" is Lead Recycled: the words of a relative clause between
    # the event's words do not part them.
    words = []
    in_clause = False
    for m in re.finditer(r"[a-z0-9$]+", text):
        word = m.group(0)
        if word in RELATIVES or (in_clause and word in AUXILIARIES):
            in_clause = True
            continue
        in_clause = False
        if word not in ARTICLES:
            words.append((word, m.start(), m.end()))
    out = []
    for event in events:
        stems = sorted(_stem(t) for t in tokens(event) if t not in ARTICLES)
        n = len(stems)
        if not 2 <= n <= 3 or any(len(st) < 3 for st in stems):
            continue
        for i in range(len(words) - n + 1):
            window = words[i:i + n]
            if sorted(_stem(w) for w, _, _ in window) == stems:
                start, end = window[0][1], window[-1][2]
                out.append((event, start, end, text[start:end]))
    return out


def _by_fragment(fragments: tuple[str, ...], normal_events: dict[str, str],
                 popularity: dict[str, int]) -> str | None:
    """The most popular event whose name holds the first fragment any event holds."""
    for fragment in fragments:
        wanted = " ".join(tokens(fragment))
        hits = [e for e, words in normal_events.items()
                if re.search(rf"(?:^| ){re.escape(wanted)}(?:s|es|ed|d|ing)?(?: |$)", words)]
        if hits:
            return max(hits, key=lambda e: (popularity.get(e, 0), e))
    return None
