"""A question read into a frame before any tool is chosen.

The frame says what is asked (a rate, a count, a comparison, a reason, a list of people, a plan,
a change, a duration...), the steps it names (loose words resolved against the journey model
and the catalog), the population ("churned customers", "people from email", "EMEA"), the period
(relative to the data's end), the breakdown or comparison ("iOS vs Android"), and customer ids.
It is shown with every answer (`--json`, the web chat's steps), so a wrong reading is visible.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from agent.periods import Period, read_period
from agent.spelling import COMMON_WORDS, QUESTION_WORDS
from agent.vocabulary import ROLE_WORDS, StepMention, find_steps
from agent.vocabulary import _normal as normal_text

DEVICE_WORDS = {"phone": "mobile", "phones": "mobile", "smartphone": "mobile",
                "computer": "desktop", "laptop": "desktop", "iphone": "ios", "ipad": "ios"}
# Words for an attribute a breakdown may name -> attribute names it can mean, in order.
BREAKDOWN_WORDS = {"device": ("device",), "devices": ("device",), "platform": ("device",),
                   "platforms": ("device",), "os": ("device",), "channel": ("channel",),
                   "channels": ("channel",), "source": ("channel",), "sources": ("channel",),
                   "acquisition": ("channel",), "utm": ("channel",),
                   "utm_source": ("utm_source", "channel"), "utm source": ("utm_source", "channel"),
                   "lead source": ("lead_source", "channel"), "medium": ("channel",),
                   "plan": ("plan",),
                   "plans": ("plan",), "tier": ("plan",), "country": ("country",),
                   "countries": ("country",), "market": ("country",), "markets": ("country",),
                   "region": ("region", "country"), "regions": ("region", "country"),
                   "industry": ("industry",), "company size": ("company_size",),
                   "size": ("company_size",), "version": ("app_version",),
                   "category": ("category",), "payment method": ("payment_method",)}
# Country words a question uses for the codes the data hold ("German customers" -> DE).
COUNTRY_WORDS = {"german|germany": "DE", "french|france": "FR", "british|britain|uk|united kingdom":
                 "GB", "american|usa|united states": "US", "spanish|spain": "ES",
                 "italian|italy": "IT", "dutch|netherlands": "NL", "canadian|canada": "CA",
                 "australian|australia": "AU", "japanese|japan": "JP", "brazilian|brazil": "BR",
                 "indian|india": "IN", "swedish|sweden": "SE", "polish|poland": "PL",
                 "mexican|mexico": "MX", "irish|ireland": "IE", "swiss|switzerland": "CH"}
ENTERPRISE = r"\benterprise|large (?:companies|accounts|customers)|big accounts\b"
SMALL = r"\bsmb|small (?:businesses|companies|teams)\b"

# A count over time: "cancellations by month", "weekly signups".
OVER_TIME = r"\b(by|per|each|every) (month|week)\b|\b(monthly|weekly|over time|trend\w*|month " \
            r"(by|over|on) month|week (by|over|on) week)\b"


@dataclass
class Frame:
    question: str
    asks: str = "answer"  # rate, count, list, comparison, reason, people, plan, change...
    topic: str = ""  # the investigation that answers it
    steps: list[str] = field(default_factory=list)
    step_words: dict[str, str] = field(default_factory=dict)  # event -> the words that named it
    period: dict | None = None
    split_at: str | None = None  # "before and after 17 August": the day the periods meet
    exclude: list[str] = field(default_factory=list)  # "excluding those who hit an error"
    hold: str | None = None  # "on the same device": every step with step 1's value
    # Paths around a step: "what leads up to X" (before), "the hour after X" (after), "what
    # did people who abandoned X do" (dropped_after: reached X; dropped_at: never reached X).
    path_anchor: str | None = None
    within_seconds: int | None = None  # "in the 30 minutes after": the time limit
    per_session: bool = False  # "within a session": each session a journey
    population: dict[str, Any] = field(default_factory=dict)  # did, device, channel, where...
    population_label: str = ""
    by: str | None = None
    compare: list[str] = field(default_factory=list)  # the values compared ("iOS", "Android")
    customer_ids: list[str] = field(default_factory=list)
    window_days: int | None = None  # "first report within a week of signup": 7
    topic_words: str | None = None  # free text for a feedback search
    notes: list[str] = field(default_factory=list)  # how loose words were read

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", [], {})}

    def filters(self, with_period: bool = True) -> dict[str, Any]:
        # One value is passed as itself ("mobile"), several as a list.
        out = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
               for k, v in self.population.items() if v}
        if with_period and self.period:
            out["since"], out["until"] = self.period["since"], self.period["until"]
        return out

    def said(self) -> str:
        """The frame in one line for a reader: how the question was understood."""
        parts = [f"asks: {self.asks}"]
        if self.steps:
            parts.append("steps: " + " > ".join(self.steps))
        if self.population_label:
            parts.append("who: " + self.population_label)
        if self.split_at:
            parts.append(f"when: before vs from {self.split_at}")
        elif self.period:
            parts.append("when: " + self.period["label"])
        if self.by:
            parts.append(f"by: {self.by}" + (f" ({' vs '.join(self.compare)})"
                                             if self.compare else ""))
        if self.customer_ids:
            parts.append("customer: " + ", ".join(self.customer_ids))
        if self.exclude:
            parts.append("excluding who did: " + ", ".join(self.exclude))
        if self.hold:
            parts.append(f"same {self.hold} throughout")
        if self.path_anchor:
            anchor = {"before": "leading to", "after": "after", "dropped_after": "of those who "
                      "left after", "dropped_at": "of those who never reached"}[self.path_anchor]
            parts.append(f"paths {anchor} " + (self.steps[0] if self.steps else "the step"))
        if self.within_seconds:
            parts.append(f"within {_said_seconds(self.within_seconds)}")
        if self.per_session:
            parts.append("per session")
        return "; ".join(parts)


def _said_seconds(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}" + ("s" if n != 1 else "")
    return f"{seconds} seconds"


# "before and after 17 August", "since the launch compared to before": two periods that meet.
BEFORE_AND_AFTER = (r"\bbefore\s+(and|vs\.?|versus|or|&)\s+(after|since|from)\b|"
                    r"\b(after|since|from)\b.*\b(compared (to|with)|vs\.?|versus|against)\s+"
                    r"(the (days|weeks) )?before\b")


@dataclass
class Vocabulary:
    """What the frame reader needs to know about the data (from describe_data)."""

    events: list[str]
    popularity: dict[str, int]
    end: date
    conversion: str | None
    churn: str | None
    key_steps: list[str]
    stage_steps: dict[str, str]
    devices: list[str]
    channels: list[str]
    attribute_values: dict[str, list[str]]
    # Each event's stage position on the journey (0 first): two steps named without a
    # direction ("which industries win the most opportunities?") are read in journey order.
    stage_rank: dict[str, int] = field(default_factory=dict)


# "what did people who abandoned checkout do next?", "where do people go after dropping off at
# signup?", "paths of users who never reached pricing": the paths of a step's leavers.
LEAVERS_PATHS = (r"\b(paths?|journeys?|routes?|sequences?)\b.*\b(who|that|after|once)\b\s*"
                 r"(have |had |they )?(dropped|drop|abandon\w*|left|leave|quit|bailed|bail|"
                 r"never (reached|got to|made it to|hit|did)|did(n'?t| not) (reach|get to|make "
                 r"it to|do|hit)|gave up|give up)\b|\b(who|that|after)\b\s*(have |had |they )?"
                 r"(dropped|abandon\w*|left|quit|bailed|never reached|did(n'?t| not) reach)\b"
                 r".*\b(paths?|journeys?|routes?|sequences?)\b")
# (Without a path word, "what do people who leave at the paywall do?" is the leavers' friction:
# what share of them did what, which one long path each cannot show.)
# "what do people do before they subscribe?", "what leads up to a cancellation?"
# ("which paths lead to a paid subscription?" stays the whole journeys that end there.)
LEADING_TO = (r"\b(what|which|show|list|top|common|typical)\b.*\b(do|did|does|paths?|steps?|"
              r"journeys?|routes?|events?|actions?|happens?|happened)\b.*\b(before|leading "
              r"up to|leads? up to|prior to|ahead of|on the(ir)? way to|in the run[- ]up to)\b|"
              r"\bpre-?(conversion|purchase|signup|order|sale)\b.*\b(paths?|journeys?|routes?|"
              r"steps?)\b|\b(paths?|journeys?|routes?) (into|up to)\b")
PER_SESSION = (r"\b(within|in|inside|per|during) (a|one|the same|a single|each|one single) "
               r"(session|visit)\b|\bsession[- ]level paths?\b|\bpaths? (with)?in sessions\b")
# "in the 30 minutes after", "within an hour of", "the day before": a time limit from a step.
WITHIN_STEP = re.compile(
    r"\b(?:within|in|inside|during|over)\s+(?:the\s+|their\s+)?(?:first\s+|next\s+|last\s+)?"
    r"(\d+(?:\.\d+)?|an?|one|half an?|the)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|"
    r"weeks?)(?=\s+(?:before|after|of|since|following|leading|prior|once|from|ahead)\b)|"
    r"\b(the) (minute|hour|day|week) (?=(?:before|after|following)\b)")
WITHIN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


# With an anchor already read, a bare "within a day" is the limit too.
WITHIN_BARE = re.compile(r"\bwithin\s+(\d+(?:\.\d+)?|an?|one|half an?)\s*(seconds?|secs?|"
                         r"minutes?|mins?|hours?|hrs?|days?)\b")


def _within_seconds(q: str, bare: bool = False) -> int | None:
    m = WITHIN_STEP.search(q) or (WITHIN_BARE.search(q) if bare else None)
    if not m:
        return None
    said, unit_word = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    amount = {"a": 1.0, "an": 1.0, "one": 1.0, "the": 1.0}.get(said)
    if said.startswith("half"):
        amount = 0.5
    if amount is None:
        amount = float(said)
    unit = unit_word[0]
    return int(amount * WITHIN_UNITS[unit]) or None


# "total booked revenue to date", "how much did we close in May?": a sum of the conversion's value.
REVENUE = (r"\b(booked|closed|total|sum of|overall|gross) (\w+ ){0,2}(revenue|sales|bookings|arr|"
           r"mrr|amount|value)\b|\bhow much (did|have|has) (we|the team|sales) (close|book|sell|"
           r"bill|make|bring|sign)\w*\b|\brevenue\b.*\bto date\b")

ASKS = [  # (what is asked, pattern), first match wins
    ("customer", None),
    # "who should we call?", not "people who came from email: how many pay?" (a clause).
    ("people", r"(?<!people )(?<!customers )(?<!users )(?<!those )(?<!ones )\b(who|which "
               r"(customers|users|accounts|people|members|subscribers|buyers|shoppers|clients|"
               r"leads|contacts))\b.*\b(call|contact|reach out|email|target|save|rescue|"
               r"prioriti[sz]e|follow up|win back|at[- ]risk|likely to|about to|might|going to|"
               r"will)\b|\b(list|names?|ids) of\b.*\b(customers|users|accounts|people)\b|"
               r"\bwho (should|do|can) we\b|\b(customers|accounts|users|subscribers|members|"
               r"clients|shoppers|people) (most|more|likely|looking likely|that look likely) "
               r"(at[- ]risk|to (cancel|churn|leave|lapse|slip away))\b|"
               r"\bat[- ]risk (customers|accounts|users|list|subs|"
               r"subscribers|members|clients|buyers|people)\b|\b(churn[- ])?risk list\b|"
               r"\bcall list\b|\b(most|highest)[- ]risk (customers|accounts|users|subs|"
               r"subscribers)\b"),
    ("actions", r"\bwhat (should|can|could|do) we (offer|give|send|say to|do (for|with|about)) "
                r"(them|these|those|the (at[- ]risk|ones)|at[- ]risk)|\bnext best actions?\b|"
                r"\bbest (offers?|actions?|next steps?) (for|to)\b"),
    ("p_alive", r"\b(p\(alive\)|still active|lapsed|dormant|gone quiet|went quiet|repeat "
                r"(buyers|customers|purchasers)|come back (and|to) (buy|order|purchase))\b"),
    ("list", r"^\W*(who|which (customers|users|accounts|people|members|subscribers|buyers|"
             r"leads|contacts)|list (the )?(customers|users|accounts|people)|"
             # "can you pull the EMEA leads that got recycled in March?"
             r"((can|could) you |please )?(pull|export|get me|give me|send me|list)( me| us)? "
             r"(the |a list of |all )?([\w-]+ ){0,2}(customers|users|accounts|people|leads|"
             r"contacts|buyers|shoppers|subscribers|members|deals))\b(?!.*\b(should|"
             r"will|might|likely|going to|at[- ]risk|about to|could|would|call|contact)\b)"),
    ("plan", r"\b(quarter(ly)? plan|quick[- ]wins?|roadmap|action plan|plan for (the|next|this)"
             r" quarter|what should we (do|focus on|prioriti[sz]e)( first)? (this|next) "
             r"quarter|initiatives)\b"),
    ("leavers_paths", LEAVERS_PATHS),
    ("budget", r"\b(budget|spend|invest|allocat|worth (it|the money|the spend|paying for)|"
               r"where (should|to) (we )?put (the )?money|"
               r"marketing dollars|which channels? (should|to) (we )?(fund|scale|double down))"),
    ("reason_change", r"\bwhy (did|has|have|was|were)\b.*\b(drop|fall|fell|decline|dip|tank|go "
                      r"down|went down|decrease|worse|slump|plunge|crash|low)|\bwhat (caused|"
                      r"happened(?! to (the |them|those|these|our |all )?(people|users|customers|"
                      r"leads|accounts|visitors|shoppers|ones|them|mqls|trials|\w+ who|\w+ that))|"
                      r"went wrong)\b|\bwhat broke\b|\bsomething (happened|went wrong|"
                      r"broke|changed)\b|\bwhen (did )?it (start|started|began|begin)\b|"
                      r"\b(during|in|around|after) the "
                      r"(\w+ ){0,2}(outage|incident|drop|dip|crash|bug|breakage|collapse)\b"),
    ("change", r"\b(what changed|what's changed|anything (unusual|odd|weird|strange)|anomal|"
               r"spikes?|sudden(ly)?|unusual|out of the ordinary|changed recently|shifted|"
               r"alerts?)\b"),
    ("next", r"\bwhat happens (to|after|when|once)\b|\bwhat do(es)? ([a-z]+ ){1,3}do (right |"
             r"straight |just )?(after|next|once|when)\b|\b(right|straight|just) after\b"
             r"|\bwhere do ([a-z]+ ){1,3}(go|head) (after|next|from)\b"),
    ("paths", r"\b(paths?|routes?|sequences?)\b.*\b(lead|leads|end|ends|ending|result|convert"
              r"\w*|to)\b|\bcommon (paths?|journeys?|routes?)\b"),
    ("sessions", r"\bsessions?\b|\bvisits? (per|length|last)|\bper visit\b|\bhow many "
                 r"(visits|times (do|does|did) (people|shoppers|users|customers) (come|visit))\b|"
                 r"\b(typical|average|avg|median|usual) (visit|session)\b"),
    ("duration", r"\bhow long\b|\bhow many (days|hours|weeks)\b|\btime[- ]to[- ]\w+|\bttv\b|"
                 r"\bhow (quickly|fast|soon)\b|\btime (it takes|from|between|until)\b|"
                 r"\bdays? (from|between|until|to (close|convert|win|pay))\b|\blag\b|"
                 r"\b(sales|deal|buying) cycles?\b|\bcycle time\b|\bvelocity\b|\b(avg|average|"
                 r"median|typical) time\b|\btime to (close|win|convert|pay|buy|value)\b"),
    # "show me the journey for mobile vs desktop": the map, side by side.
    ("journey_map", r"\b(journey map|customer journey map|map (of )?the (customer )?journey|"
                    r"show (me |us )?(the |our )?(whole |customer |full |entire )?journey|"
                    r"draw (the |our )?journey|the journey (for|of) )"),
    ("model", r"\b(main funnel|default funnel|funnel steps|steps of (the|our) funnel|"
              r"typical (customer |user )?journey|journey (look|looks) like|step by step|"
              r"journey model|main (\w+ )?(journey|funnel)|(purchase|buying) journey|"
              r"conversion event|counts? as (a )?(conversion|"
              r"churn)|what (is|are) (our|the) (funnel|journey|main) steps|what steps|how do "
              r"you define|which event (is|counts))\b"),
    ("feedback", r"\b(complain\w*|say|saying|said|feedback|(writ\w*|wrote) (to|in|about)|"
                 r"what (they|those people|these people|people|customers|users) wrote|"
                 r"talk\w* about|"
                 r"tickets?|reviews?|unhappy|frustrat\w*|"
                 r"pain points?|quotes\b|verbatims?|nps|csat|survey|comments?|tell us|mention\w*)"
                 r"\b"),
    ("reason", r"\bwhy\b|\breasons?\b|\bwhat stops\b|\bwhat makes (people|users|customers) "
               r"(leave|drop|abandon|quit)|\bblockers?\b|\bfriction\b"),
    ("predictors", r"\b(predict\w*|leading indicators?|indicators?|"
                   r"leads? to(?! (mql|sql|opp\w*|won|closed|deal|customer))|"
                   r"drives?|associated|connected (to|with)|linked (to|with)|related (to|with)|"
                   r"tied to|behind (the|this|that)|moments? of truth|correlat\w*|"
                   r"do differently|what makes|signals?|early signs|levers?|keeps?|magic moment|"
                   r"aha moment|what (actions?|behaviou?rs?|things|features|habits) (make|makes|"
                   r"get|gets|drive|help|lead|push)|more likely to|less likely to|"
                   r"(does|do|did) .{3,60} (help|hurt|improve|increase|boost|matter for|"
                   r"make a difference))\b"),
    # "what do MQLs that never become SQL do?", "the ones we don't win": those who left a step.
    ("leavers", r"\b(never|don'?t|do not|didn'?t|did not|fail to|failed to|who don'?t|that don'?t)"
                r" (become|became|reach|reached|get to|got to|make it to|made it to|convert\w*|"
                r"go on|went on|turn into|turned into|sign up|signed up|pay|paid|buy|bought|"
                r"upgrade\w*|win|won|close|closed|order\w*|purchase\w*|subscribe\w*|finish\w*|"
                r"complete\w*|add|added|start|started|open|opened|book|booked|request\w*|"
                r"activate\w*|create\w*|try|tried|put|end(ed)? up \w+ing)\b"),
    ("dropoff", r"\b(drop(ping|s)? off|drop-?offs?|get(ting)? stuck|stuck|stall\w*|lose (people|"
                r"them|customers|users|deals|leads|most)|losing|leak\w*|bottlenecks?|fall(ing)? "
                r"(out|off)|biggest drops?)\b"),
    ("comparison", r"\b(vs\.?|versus|compare\w*|compared|differ\w*|better|worse|than|by|per|"
                   r"split|broken down|across|breakdown)\b"),
    ("size", r"\b(big deal|how bad|how common|how often|how serious|how widespread|should we "
             r"(worry|be worried)|a (real )?problem)\b"),
    ("count", r"\bhow many\b|\bnumber of\b|\bcount\b|\bhow much\b.*\b(revenue|money|income|"
              r"sales|made|earn\w*|brought|bring|generat\w*|billed)\b|\btotal (revenue|sales)\b|"
              + REVENUE),
    ("rate", r"\b(rate|share|percent(age)?|%|cvr|ratio|what fraction|conversion|completion)\b"),
]


# "I only joined the team last week": about the speaker (not a period, nor the team plan).
ABOUT_THE_SPEAKER = re.compile(
    r"\b(I|we)('ve| have|'m| am)? (only |just |recently )?(joined|started (here|at|on|in|with)|"
    r"began|moved|came on ?board|took over)\b[^.?!;]*", re.IGNORECASE)


def read_frame(question: str, v: Vocabulary) -> Frame:
    frame = Frame(question=question)
    question = ABOUT_THE_SPEAKER.sub("", question)
    q = " " + question.lower() + " "
    frame.customer_ids = _customer_ids(question)
    # A channel or device named in full ("paid search", "google_uac") is a value, not a step,
    # even where its words would also name an event ("search_visit").
    # "what leads up to a won deal": the verb, not the Lead step (blanked, offsets kept).
    unled = re.sub(r"(?i)\blead(s|ing)? up to\b", lambda m: " " * len(m.group(0)), question)
    # "... so billing can reach out": who will use the answer, not a step of it.
    unled = re.sub(r"(?i)\bso (that )?(the |our )?[\w-]+( team)? can [^?.]*",
                   lambda m: " " * len(m.group(0)), unled)
    mentions = find_steps(_without_values(unled, v.channels + v.devices), v.events,
                          v.popularity, {"conversion": v.conversion, "churn": v.churn},
                          v.stage_steps)
    if len([m for m in mentions if m.how != "role"]) >= 2:
        # "conversion from pricing to sign-up": the word measures, the named steps are the steps.
        mentions = [m for m in mentions if not (m.how == "role" and m.words.startswith("conver"))]
    for m in mentions:
        if m.how == "role" and m.words.startswith("conver") and len(mentions) >= 2:
            # "conversion rate from landing page to paid": the conversion step stands where
            # "paid" is (one mention per step, so the measuring word claimed it first).
            later = [w for w in re.finditer(rf"(?<=[ ])(?:{ROLE_WORDS['conversion']})",
                                            normal_text(unled))
                     if w.start() > m.start and not w.group(0).startswith("conver")]
            if later:
                m.start, m.words = later[0].start(), later[0].group(0)
                mentions = sorted(mentions, key=lambda x: x.start)
                break
    named = [m for m in mentions if m.how != "role"]
    mentions = [m for m in mentions if not (
        m.how == "role" and m.words.startswith("conver") and any(
            0 <= m.start - (n.start + len(n.words)) <= 2 for n in named))]
    # "paywall conversion", "signup conversion rate": the word measures the step before it.
    period = read_period(question, v.end) if v.end else None  # None: no events yet
    if period:
        frame.period = period.to_dict()
        if re.search(BEFORE_AND_AFTER, q):
            frame.split_at = frame.period["since"]
    _population(q, v, frame, mentions)
    said_by = _comparison(q, v, frame)
    if said_by:
        # "which plan churns most?": the word names the breakdown, not the plan_selected step.
        # ("worst lead source": "lead" is part of the breakdown's name, not the Lead step.)
        mentions = [m for m in mentions if m.words.rstrip("s") != said_by.rstrip("s")
                    and not (" " in said_by and m.words.lower() in said_by.split())]
    frame.population_label = label_of(frame)
    # A churn or conversion word that defines the population is not a step of the question.
    said_population = frame.population.get("did", [])
    # "excluding people who contacted support": an exclusion step, not a step of the funnel.
    # (Offsets as find_steps counts them: in its normalised text.)
    cue = re.search(r"\b(excluding|exclude|except( for)?|leaving out|removing|remove|drop|"
                    r"strip(ping)? out|filter(ing)? out|minus|ignoring|not counting|without)\b"
                    r"( (people|those|anyone|users|customers|visitors|leads|shoppers|accounts|"
                    r"everyone|the ones))?( (who|that))?( (did|had|have|got|hit|saw))?",
                    normal_text(_without_values(question, v.channels + v.devices)))
    if cue:
        # The named events just after the cue are excluded; words inside the cue itself
        # ("excluding leads that got recycled": "leads") name people, not a step.
        cut = [m for m in mentions if m.how != "role" and (
            0 <= m.start - cue.end() <= 40
            or cue.start() <= m.start < cue.end() < m.start + len(m.words))]
        inside = [m for m in mentions if cue.start() <= m.start
                  and m.start + len(m.words) <= cue.end()]
        mentions = [m for m in mentions if m not in inside]
        frame.exclude = [m.event for m in cut] or _distinctive_event_after(
            normal_text(question)[cue.end():], v.events)
        mentions = [m for m in mentions if m not in cut]
    if re.search(r"\b(on|with|from) the same (device|platform)\b", q):
        frame.hold = "device"
    elif re.search(r"\b(on|with|from|through) the same channel\b", q):
        frame.hold = "channel"
    elif re.search(r"\b(in|within|during) the same (session|visit)\b", q):
        frame.hold = "session"  # the export's session id (the planner knows which)
    frame.steps = [m.event for m in mentions if not (m.how == "role" and m.event in
                                                       said_population)]
    frame.steps = _after_reversed(frame.steps, mentions, normal_text(
        _without_values(unled, v.channels + v.devices)))
    frame.steps = _in_journey_order(frame.steps, q, v)
    frame.window_days = _window_days(q) if len(frame.steps) >= 2 else None
    frame.step_words = {m.event: m.words for m in mentions if m.words != m.event.lower()}
    for m in mentions:
        if m.how != "name":
            frame.notes.append(f"'{m.words}' read as {m.event}")
    for asks, pattern in ASKS:
        if asks == "customer":
            if frame.customer_ids:
                frame.asks = "customer"
                break
            continue
        if pattern and re.search(pattern, q):
            frame.asks = asks
            break
    if frame.asks == "next" and len(frame.steps) >= 2 and re.search(dict(ASKS)["duration"], q):
        # "what happens after they start a trial? how many end up paying, and how long does
        # it take?": the question names where they go, so it asks how many and how long.
        frame.asks = "duration"
    if frame.steps and frame.asks in ("answer", "change", "count", "rate", "comparison",
                                      "predictors", "reason") and re.search(
            r"\b(collapsed?|collapsing|tank(ed|s)?|plummet\w*|plunged?|crater\w*|nose-?dived?|"
            r"dropped|fell|dipped|declined|went down|slumped|cratered|off a cliff|fell off|"
            r"crash(ed)?)\b", _without_steps(q, frame.steps + frame.exclude)) and not re.search(
                r"\bwhy (do|does)\b", q):
        frame.asks = "reason_change"  # "trial starts collapsed on android mid-may": when, where
    elif frame.steps and frame.period and frame.asks == "reason" and re.search(
            r"\b(falling|failing|dropping|declining|tanking|sinking|down)\b",
            _without_steps(q, frame.steps + frame.exclude)):
        # "why are iphone checkouts failing in april?": a fall in a period (when, where),
        # not why people leave that step in general.
        frame.asks = "reason_change"
    if frame.asks == "budget" and frame.by and re.search(r"variant|experiment|test|arm",
                                                         frame.by):
        frame.asks = "comparison"  # "how did the price test do? is B worth it?"
    if frame.asks == "reason_change" and re.search(
            r"\b(say|said|saying|complain\w*|wrote|write|writing|tell us|told us|mention\w*|"
            r"feedback|quotes?|verbatims?)\b", q) and not re.search(r"\b(why|when)\b", q):
        frame.asks = "feedback"  # "what did customers say during the outage?": their words
    if frame.hold == "session" and len(frame.steps) >= 2 and frame.asks == "sessions":
        frame.asks = "answer"  # a funnel held to one session, not the sessions report
    _read_path_anchor(q, frame)
    _what_is_counted(q, v, frame)
    topic = re.search(r"\b(?:about|regarding|mentioning|on|with|re)\s+(?:the\s+|our\s+)?"
                      r"([a-z][a-z \-']{2,60})", q)
    if topic:
        frame.topic_words = topic.group(1).strip(" ?.")
    return frame


def _what_is_counted(q: str, v: Vocabulary, frame: Frame) -> None:
    """ "How many subscriptions were cancelled?" counts the cancellations, not the churned
    customers' subscriptions; "total revenue to date" sums the conversion's value."""
    if frame.asks != "count":
        return
    did = frame.population.get("did") or []
    if v.churn and did == [v.churn] and set(frame.steps) <= {v.conversion}:
        frame.steps = [v.churn]
        frame.population.pop("did")
        frame.population_label = label_of(frame)
    elif not frame.steps and not did and v.conversion and re.search(REVENUE, q):
        frame.steps = [v.conversion]


def _read_path_anchor(q: str, frame: Frame) -> None:
    """Paths around one step: leading to it, in the time after it, of those who left it; a
    time limit; each session on its own."""
    frame.per_session = bool(re.search(PER_SESSION, q)) and frame.asks in (
        "paths", "next", "answer", "leavers_paths") and frame.hold != "session"
    one_step = len(frame.steps) == 1
    if frame.asks == "leavers_paths":
        if not one_step:
            frame.asks = "leavers" if frame.steps else "dropoff"
            return
        step = frame.steps[0]
        named = re.escape(step.lower()), re.escape(frame.step_words.get(step, step).lower())
        # "never reached X", "dropped (off) at X", "before X": they did not get to X.
        # ("dropped off at checkout", "abandoned checkout": they got there and went no further.)
        missed = re.search(r"\b(never|did(n'?t| not)|before|short of)\b[^.?!]{0,25}\b("
                           + "|".join(named) + r")", q)
        frame.path_anchor = "dropped_at" if missed else "dropped_after"
        frame.asks = "paths"
        if frame.population.get("did") and not re.search(
                r"\b(churn\w*|cancel\w*|unsubscrib\w*|lapsed)\b", q):
            # "shoppers who quit before paying" left the funnel: not churned customers.
            frame.population.pop("did")
            frame.population_label = label_of(frame)
    elif one_step and (frame.asks in ("paths", "answer", "next", "leavers") or (
            frame.asks == "rate" and re.search(r"\b(paths?|journeys?|routes?)\b", q))) and \
            re.search(LEADING_TO, q):
        frame.path_anchor = "before"
        frame.asks = "paths"
    within = _within_seconds(q, bare=frame.path_anchor is not None)
    if within and one_step and frame.asks in ("paths", "answer", "next"):
        frame.within_seconds = within
        if not frame.path_anchor:
            # "paths that lead to X within a day": a limit counts back from where they end.
            ends = re.search(r"\b(lead\w*|end\w*|result\w*|finish\w*) (up )?(in|to|with|at)\b", q)
            frame.path_anchor = "before" if ends else "after"
        frame.asks = "paths"
    elif within and frame.path_anchor:
        frame.within_seconds = within
    if frame.per_session:
        frame.asks = "paths"


def _after_reversed(steps: list[str], mentions: list[StepMention], text: str) -> list[str]:
    """ "create their first report after they sign up": the step named second comes first."""
    named = sorted((m for m in mentions if m.event in steps and m.how != "role"),
                   key=lambda m: m.start)
    if len(steps) != 2 or len(named) != 2 or [m.event for m in named] != steps:
        return steps
    between = text[named[0].start + len(named[0].words):named[1].start]
    if re.search(r"\b(after|once|following|since)\b", between) and not re.search(
            r"\b(then|to|and then|before)\b", between):
        return [steps[1], steps[0]]
    return steps


# Words that give two steps a direction of their own ("after checkout, back to pricing").
DIRECTED = re.compile(r"\b(after|before|then|back|again|return\w*)\b|\bfrom\b.*\bto\b|->|>")


def _in_journey_order(steps: list[str], q: str, v: Vocabulary) -> list[str]:
    """Steps named without a direction, in the journey's order: "first report inside a week
    of signup" is signup, then the first report; "win the most opportunities" is the
    opportunity, then the win. A question that gives a direction keeps its own order."""
    if len(steps) < 2 or DIRECTED.search(q):
        return steps
    if all(s in v.key_steps for s in steps):
        return sorted(steps, key=v.key_steps.index)
    if not all(s in v.stage_rank for s in steps):
        return steps
    # Within a stage, more people do the earlier step (a funnel narrows).
    return sorted(steps, key=lambda s: (v.stage_rank[s], -v.popularity.get(s, 0)))


def _without_steps(q: str, steps: list[str]) -> str:
    """The question without the steps' names ("Payment Declined" declines nothing)."""
    for step in steps:
        q = q.replace(step.lower(), " ").replace(step.lower().replace("_", " "), " ")
    return q


UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30}
MONTHS = r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"


def _window_days(q: str) -> int | None:
    """A conversion window the question sets: "within a week", "inside 30 days of signup",
    "in their first 14 days after joining" (not "in the first week of June": a period)."""
    m = re.search(rf"\b(?:within|inside)(?: (?:a|one|the first|their first|the|(\d+)))? "
                  rf"(day|week|fortnight|month)s?\b|\b(?:in|during) (?:a|one|the first|"
                  rf"their first|(\d+)|the first (\d+)|their first (\d+)) "
                  rf"(day|week|fortnight|month)s? (?:of|after|from|since)\b(?! (?:{MONTHS}))", q)
    if not m:
        return None
    number = next((g for g in (m.group(1), m.group(3), m.group(4), m.group(5)) if g), "1")
    unit = m.group(2) or m.group(6)
    return int(number) * UNIT_DAYS[unit]


def _customer_ids(question: str) -> list[str]:
    """Tokens that look like ids (letters and at least three digits: C0000123, cus_4821)."""
    found = re.findall(r"\b(?=[A-Za-z_-]*\d)(?=(?:[^\s]*\d){3})[A-Za-z][A-Za-z0-9_-]{3,40}\b",
                       question)
    # Hex ids (a hashed device id, 0074f23c1927): digits and a-f letters, ten or more.
    found += [f for f in re.findall(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{10,40}\b",
                                    question) if f not in found]
    # All-digit ids (a CRM's 0031100000670) where the question says it is one.
    found += re.findall(r"(?:\b(?:for|customer|contact|account|user|lead|id|client|person|"
                        r"member)\s*#?\s*|#)(\d{6,20})\b", question, flags=re.IGNORECASE)
    return [f for f in found if not re.fullmatch(r"[Qq][1-4]\d*|\d+[a-z]?", f)
            or (f.isdigit() and len(f) >= 6)]


def _only_a_step(q: str, channel: str, events: list[str]) -> bool:
    """"did they show up to webinars?", "attended a webinar": the word names the Webinar
    Attended step, not the Webinar channel ("webinar leads", "from webinar" stay the channel)."""
    from agent.vocabulary import tokens

    spoken = channel.lower().replace("_", " ")
    if not any(spoken in tokens(e) for e in events):
        return False
    return bool(re.search(rf"\b(to|at|attend\w*|join\w*|watch\w*|register\w* for|sign\w* up "
                          rf"for)\s+(the |a |an |our |any )?{re.escape(spoken)}s?\b", q))


def _value_in(q: str, value: str) -> bool:
    spoken = value.lower().replace("_", " ")
    return bool(re.search(rf"(?<![a-z0-9]){re.escape(spoken)}s?(?![a-z0-9])", q)
                or re.search(rf"(?<![a-z0-9]){re.escape(value.lower())}(?![a-z0-9])", q))


def _population(q: str, v: Vocabulary, frame: Frame, mentions: list[StepMention]) -> None:
    pop: dict[str, Any] = {}
    words: list[str] = []
    churned = re.search(r"\b(churned|churners|cancell?ed|who (churned|cancell?ed|left|quit)|lost "
                        r"customers|former customers|ex[- ]customers|who (have )?left)\b", q)
    if churned:
        if v.churn:
            pop["did"] = [v.churn]
            words.append(f"customers who churned ({v.churn})")
        else:
            frame.notes.append("the data have no churn event: 'churned' not applied")
    paying = re.search(r"\b(paying|paid) (customers|users|accounts|members)|\b(customers|users|"
                       r"people) who (paid|bought|purchased|converted|subscribed)|\bbuyers\b|"
                       r"\bsubscribers\b|\bconverters\b", q)
    if paying and re.search(r"\b(turns?|turned|go(es)? on|went on|converts?|converted|becomes?|"
                            r"became|upgrades?|upgraded|end up as|ends up as) (in)?to (be )?"
                            r"(a |an )?$", q[:paying.start()]):
        paying = None  # "trials that turn into paying customers": the step, not who is asked
    if paying and paying.group(0) == "subscribers" and any(
            q[:paying.start()].rstrip().endswith(c.lower().replace("_", " ")) for c in v.channels):
        paying = None  # "newsletter subscribers": the channel's people, not buyers
    if paying and v.conversion and "did" not in pop:
        pop["did"] = [v.conversion]
        words.append(f"customers who converted ({v.conversion})")
    devices = [d for d in v.devices if _value_in(q, d)]
    for word, meant in DEVICE_WORDS.items():
        if re.search(rf"\b{word}s?\b", q):
            devices += [d for d in v.devices if d.lower() == meant and d not in devices]
    if devices:
        pop["device"] = devices
        words.append("people on " + " or ".join(devices))
    channels = [c for c in v.channels if _value_in(q, c) and not _only_a_step(q, c, v.events)]
    if channels:
        pop["channel"] = channels
        words.append("people from " + " or ".join(channels))
    where: dict[str, str] = {}
    step_words = {m.words.lower() for m in mentions if m.how != "role"}
    said_values = {x.lower() for x in devices + channels}
    for attribute, values in v.attribute_values.items():
        if attribute in ("device", "channel"):
            continue
        for value in values:
            low = value.lower().replace("_", " ")
            if value.lower() in said_values or any(low in w or w.rstrip("s") == low
                                                    for w in step_words):
                # Already the channel or device, or the words name a step ("trial").
                continue
            if (low in QUESTION_WORDS or low in COMMON_WORDS) and not re.search(
                    rf"\b{re.escape(attribute.replace('_', ' '))}\b", q) and not re.search(
                    rf"\b{re.escape(low)} (customers|users|accounts|subscribers|members|"
                    rf"plans?|people|buyers|clients)\b|\bon {re.escape(low)}\b|\bon (the |a )?"
                    rf"{re.escape(low)} (plan|tier|package|subscription|contract)s?\b", q):
                # ("nobody on the team remembers": "on the team" is English, not plan = team.)
                continue  # "which channel gets more budget?" is not lost_reason = Budget
            short = len(value) <= 2
            hit = (re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])",
                             frame.question) if short or value.isupper()
                   else _value_in(q, value))
            twin = any(v2 == value and (a2.startswith(attribute) or attribute.startswith(a2))
                       for a2, v2 in where.items())  # billing and billing_period: one reading
            if hit and not twin and not value.replace(".", "").isdigit() and value.lower() not in (
                    "true", "false", "none", "other", "unknown", "web", "email"):
                where.setdefault(attribute, value)
    for word, code in COUNTRY_WORDS.items():
        if re.search(rf"\b({word})\b", q):
            for attribute, values in v.attribute_values.items():
                if code in values and attribute not in where:
                    where[attribute] = code
    sizes = next((a for a in v.attribute_values if "size" in a), None)
    if sizes and (re.search(ENTERPRISE, q) or re.search(SMALL, q)) and sizes not in where:
        ordered = sorted(v.attribute_values[sizes], key=_leading_number)
        where[sizes] = ordered[-1] if re.search(ENTERPRISE, q) else ordered[0]
    if where:
        pop["where"] = where
        words += [f"{k} {val}" for k, val in where.items()]
    segment = re.search(r"\bsegment\s+#?(\d+)\b", q)
    if segment:
        pop["segment"] = segment.group(1)
        words.append(f"segment {segment.group(1)}")
    if re.search(r"\bnew (users|customers|visitors|people|accounts|members|buyers)\b", q):
        words.insert(0, "new people (first seen in the period)")
        if not frame.period and not re.search(r"\b(retention|retain\w*|cohorts?)\b", q):
            since = date.fromordinal(v.end.toordinal() - 29)
            frame.period = Period(since, v.end, f"the 30 days to {v.end}").to_dict()
    frame.population = pop
    if "new people" in " ".join(words):
        frame.notes.append("new people: those first seen in the period")


def label_of(frame: Frame) -> str:
    """The population in words, once the compared values are out of it."""
    pop = frame.population
    words = []
    if any("new people" in n for n in frame.notes):
        words.append("new people (first seen in the period)")
    if pop.get("did"):
        # What the event says, not the question's other words ("subscribers ... likely to
        # cancel" are the people who subscribed).
        churn = any(re.search(r"churn|cancel|quit|lost|leave|left|expire|ended", n.lower())
                    for n in pop["did"])
        words.append(f"customers who {'churned' if churn else 'converted'} "
                     f"({' or '.join(pop['did'])})")
    if pop.get("device"):
        words.append("people on " + " or ".join(pop["device"]))
    if pop.get("channel"):
        words.append("people from " + " or ".join(pop["channel"]))
    words += [f"{k} {val}" for k, val in pop.get("where", {}).items()]
    if pop.get("segment"):
        words.append(f"segment {pop['segment']}")
    return ", ".join(words)


def _leading_number(value: str) -> float:
    m = re.match(r"\d+", value)
    return float(m.group(0)) if m else -1.0


def _without_values(question: str, values: list[str]) -> str:
    """The question with each value named in it blanked (same length, so positions hold)."""
    text = question
    for value in sorted(values, key=len, reverse=True):
        if len(value) < 3 or value.lower() in ("web", "other", "unknown", "none"):
            continue
        for spoken in {value, value.replace("_", " ")}:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(spoken)}(?![A-Za-z0-9])",
                          lambda m: " " * len(m.group(0)), text, flags=re.IGNORECASE)
    return text


WHICH = r"\b(?:which|what|each|every)\s+([a-z_-]+(?: [a-z_]+)?)\b"
# "best-performing lead source", "top converting channel": the thing ranked names the breakdown.
BEST = (r"\b(?:best|worst|top|strongest|weakest|highest|lowest)(?:[- ](?:performing|converting))?"
        r"\s+([a-z_-]+(?: [a-z_]+)?)\b")


# "channel CVR ranking", "region breakdown", "plan mix": the word before names the breakdown.
RANKED = (r"\b([a-z_]+(?: [a-z_]+)?) (?:cvr|conversion rates?|rankings?|ranked|breakdown|split|"
          r"mix|performance|league table|comparison)\b")


def _distinctive_event_after(text: str, events: list[str]) -> list[str]:
    """The event named by one word of the next three ("excluding leads that got recycled":
    "recycled" is Lead Recycled), when that word belongs to one event's name only."""
    from agent.vocabulary import _stem, tokens

    owners: dict[str, set[str]] = {}
    for event in events:
        for token in tokens(event):
            if len(token) > 3:
                owners.setdefault(_stem(token), set()).add(event)
    for word in text.split()[:3]:
        hit = owners.get(_stem(word), set())
        if len(hit) == 1 and word not in COMMON_WORDS:
            return list(hit)
    return []


def _comparison(q: str, v: Vocabulary, frame: Frame) -> str | None:
    """"iOS vs Android", "email versus organic search", "by region", "which plan churns most":
    a breakdown, and the values compared come out of the population (both sides are wanted).
    Returns the word that named the breakdown, when a word did."""
    pop = frame.population
    for attribute in ("device", "channel"):
        values = pop.get(attribute, [])
        if len(values) >= 2:
            frame.by, frame.compare = attribute, values
            pop.pop(attribute)
            return None
    where = pop.get("where", {})
    for attribute, values in v.attribute_values.items():
        hits = [x for x in values if x.lower() != "web" and _value_in(q, x)]
        if len(hits) >= 2 and re.search(r"\b(vs\.?|versus|or|and|compared?|against)\b", q):
            frame.by, frame.compare = attribute, hits
            where.pop(attribute, None)
            if not where:
                pop.pop("where", None)
            return None
    test = next((a for a in v.attribute_values if re.search(r"variant|experiment|test|arm", a)),
                None)
    if test and re.search(r"\b(variants?|experiments?|a/?b tests?|split tests?|price tests?|"
                          r"tests?|arms?)\b", q) and not frame.by:
        # "does the price test affect trial to paid?": by the test's own attribute.
        frame.by = test
        where.pop(test, None)
        if not where:
            pop.pop("where", None)
        return None
    if where and re.search(r"\bthan (the )?(others|other \w+|the rest|everyone else|average|"
                           r"the average|usual)\b", q):
        attribute, value = next(iter(where.items()))
        frame.by, frame.compare = attribute, [value]
        where.pop(attribute)
        if not where:
            pop.pop("where", None)
        return None
    if re.search(r"\b(mobile|phones?)\b.*\bdesktop\b|\bdesktop\b.*\b(mobile|phones?)\b", q):
        frame.by = "device"
        pop.pop("device", None)
        return None
    for attribute in v.attribute_values:
        # "by app version", "was it one particular app version?": the attribute said in words
        # (the one-word reading below would take "app" alone).
        spoken = attribute.replace("_", " ")
        if " " in spoken and re.search(
                rf"\b(by|per|across|which|what|one|a|any|each|every)\s+((one )?particular|"
                rf"specific|single|certain)?\s*{re.escape(spoken)}s?\b", q):
            frame.by = attribute
            return spoken
    for m in [re.search(r"\b(?:by|per|across|split by|broken down by|for each|each)\s+"
                        r"(?:the\s+)?([a-z_ ]+?)(?:\s|\?|$)", q), re.search(WHICH, q),
              re.search(BEST, q), re.search(RANKED, q)]:
        if not m:
            continue
        words = m.group(1).strip().split()
        # "which utm source", "which acquisition channel": the last word names it;
        # "which industries": the plural names it too.
        tried = ([" ".join(words)] if len(words) > 1 else []) + words[::-1]
        tried += [re.sub(r"ies$", "y", w) for w in tried if w.endswith("ies")]
        tried += [w[:-1] for w in tried if w.endswith("s") and not w.endswith("ss")]
        for word in tried:
            for key, options in BREAKDOWN_WORDS.items():
                if word == key or (" " not in word and word.startswith(key) and len(key) > 3):
                    for option in options:
                        if option in ("device", "channel") or option in v.attribute_values:
                            frame.by = option
                            return word
            if word in v.attribute_values:
                frame.by = word
                return word
    if re.search(r"\b(matter\w*|affect\w*|impact\w*|depend\w*|make a difference|differ\w*|"
                 r"influence\w*|role)\b", q):
        # "does the payment method matter for finishing checkout?": by that attribute.
        for attribute in v.attribute_values:
            spoken = attribute.replace("_", " ")
            if len(spoken) > 3 and re.search(rf"\b{re.escape(spoken)}s?\b", q):
                frame.by = attribute
                return spoken
    return None
