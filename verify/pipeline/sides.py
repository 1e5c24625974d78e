"""Whose side a speaker speaks for, from the words of their role or organisation.

A leaf module (it imports nothing from verify): ``verify.pipeline.speakers`` gives each
speaker a side with it, and attribution reads roles with it.
"""
from __future__ import annotations

import re

# Words in a role or a publisher's name that tell whose side someone speaks for. The desk
# corrects anything this gets wrong with `verify speakers set`.
AFFILIATIONS = {
    "US": ("us", "u.s.", "u.s", "usa", "american", "americans", "united states", "white house", "state department",
           "department of state", "pentagon", "washington", "biden administration", "u.s.-"),
    "NATO": ("nato", "alliance", "allies", "allied", "north atlantic", "nato's"),
    "Russia": ("russia", "russian", "russians", "russia's", "kremlin", "moscow", "russian federation", "soviet"),
    "Ukraine": ("ukraine", "ukrainian", "ukraine's", "kyiv", "kiev"),
    "EU": ("eu", "european union", "european commission", "european council"),
    "UK": ("uk", "u.k.", "british", "britain", "downing street", "foreign office"),
    "OSCE": ("osce", "organization for security and cooperation in europe"),
    "UN": ("un", "united nations", "u.n."),
    "China": ("china", "chinese", "beijing"),
    "Germany": ("germany", "german", "berlin"),
    "France": ("france", "french", "paris", "elysee", "élysée"),
    "Belarus": ("belarus", "belarusian", "minsk"),
    # "Western diplomats" speak for several governments at once: a side of its own, so
    # that "Western and Russian diplomats" reads as mixed rather than as Russia.
    "West": ("western", "the west"),
}
_AFFILIATION_WORDS = sorted(((w, side) for side, ws in AFFILIATIONS.items() for w in ws), key=lambda x: -len(x[0]))
_AFF_RE = re.compile(r"(?<![\w.])(" + "|".join(re.escape(w) for w, _ in _AFFILIATION_WORDS) + r")(?![\w])", re.I)
_AFF_OF = {w: side for w, side in _AFFILIATION_WORDS}
# "ambassador to NATO" works for someone else: what follows "to" is the host, not the employer.
_HOSTED = re.compile(r"\b(?:to|at|in|with|toward|towards|against|on)\s+(?:the\s+)?[A-Z][\w.'’\- ]*"
                     r"(?:\s+(?:for|and|in|of)\s+[A-Z][\w.'’\- ]*)*")


def affiliation(role: str | None) -> str | None:
    """The side a role or organisation name names first, or None if none or several disagree.

    Example:
        >>> affiliation("the US ambassador to NATO")
        'US'
        >>> affiliation("Russia's ambassador to the Organization for Security and Cooperation in Europe")
        'Russia'
        >>> affiliation("Western and Russian diplomats") is None  # two sides
        True
    """
    if not role:
        return None
    text = _HOSTED.sub(" ", role)
    sides = []
    for m in _AFF_RE.finditer(text):
        side = _AFF_OF[m.group(1).lower()]
        if side not in sides:
            sides.append(side)
    if len(sides) == 1 or (len(sides) == 2 and set(sides) == {"US", "NATO"}):
        return sides[0]
    return None
