"""Which report sentences are claims worth checking."""
from __future__ import annotations

import re

from verify.errors import InputError
from verify.pipeline.segment import word_count

MIN_WORDS = 4
HEADLINE_WORDS = 12


def is_check_worthy(text: str) -> bool:
    """A claim states something: a few words at least, not a question, not a bare headline.

    Headline-like lines (short, no closing punctuation: "U.S. Response") are section
    labels in reports, not assertions.
    """
    text = text.strip()
    words = word_count(text)
    if words < MIN_WORDS or text.endswith("?"):
        return False
    closes = text.rstrip("\"'”’)»").endswith((".", "!", ":", ";")) or text.endswith(("”", '"'))
    return closes or words >= HEADLINE_WORDS


def validate_claim_text(text: str) -> str:
    """A claim typed by a user: refuse what cannot be checked, with a reason."""
    text = " ".join(text.split())
    if not text:
        raise InputError("the claim is empty")
    if word_count(text) < 2:
        raise InputError(f"{text!r} is one word; a claim needs a subject and something said about it")
    return text


# --- attribution frames -----------------------------------------------------------------------
# Reports wrap what a leaked document says in frames ("The supposed U.S. response says that
# ..."). The frame is about the leak, not about the world; the proposition inside it is what
# official statements can support or contradict, so only the proposition is scored.
_SOURCE = (r"(?:the |this |that |a |an )?(?:supposed |alleged |leaked |purported |confidential |written |"
           r"american |us |u\.s\. |nato |nato's |alliance's |washington's |russian |two )*"
           r"(?:response|responses|reply|replies|answer|answers|document|documents|text|texts|paper|papers|letter|draft|"
           r"proposal|proposals|leak|memo|cable|report|version)")
# "Says" verbs take a bare clause; the others also take a plain object ("the document
# suggests a working group" proposes one: it is not a frame), so they frame only with "that".
_VERB = (r"(?:(?:says|say|said|states|stated|reads|read|notes|noted|adds|added|claims|claimed|"
         r"state|note|add|claim)(?: that)?|"
         r"(?:highlights|highlighted|stresses|stressed|shows|showed|reveals|revealed|indicates|indicated|suggests|"
         r"suggested|underlines|underlined|emphasi[sz]es|emphasi[sz]ed|points out|pointed out|makes clear|made clear|"
         # plural sources: "the documents show that ..."
         r"highlight|stress|show|reveal|indicate|suggest|underline|emphasi[sz]e|point out|make clear) that)")
_FRAMES = [
    re.compile(rf"^(?:according to {_SOURCE}(?: (?:seen|published|obtained) by [^,]+)?,\s*)", re.I),
    re.compile(rf"^(?:{_SOURCE}(?: (?:also|further|then))? {_VERB},?\s+)", re.I),
    re.compile(rf"^(?:(?:in|under) {_SOURCE}(?: (?:to|from) [^,]{{1,40}})?,\s*)", re.I),
    re.compile(r"^(?:it (?:also )?(?:says|states|notes|highlights|stresses|adds) that\s+)", re.I),
    # Discourse links ("In this context, the text highlights that ...") carry no fact of their own.
    re.compile(r"^(?:in this context|in that context|in the context of [^,]{1,60}|in this light|in that light|"
               r"in addition|additionally|besides|moreover|furthermore|however|meanwhile|on its part|on their part|"
               r"for its part|for their part|at the same time|in turn|similarly|likewise|also|still|but),\s*", re.I),
]
_TRAILING = re.compile(rf",?\s*(?:{_SOURCE} (?:says|reads|states|notes|adds)|the text reads|"
                       r"according to (?:the )?(?:leak|document|text|documents))[^.]*(?=[.!]?$)", re.I)


def split_frame(text: str) -> tuple[str, str]:
    """Split an attribution frame off a claim.

    Returns:
        ``(frame, proposition)``; ``frame`` is "" when the claim has none. The proposition
        starts with a capital letter so the NLI model sees an ordinary sentence.

    Example:
        >>> split_frame("The supposed U.S. response says that Washington is ready to talk.")
        ('The supposed U.S. response says that', 'Washington is ready to talk.')
    """
    frame_parts, rest = [], text.strip()
    for _ in range(3):  # frames nest: "According to the leak, the text stresses that ..."
        for pattern in _FRAMES:
            m = pattern.match(rest)
            if m and len(rest) - m.end() >= 12:
                frame_parts.append(m.group(0).strip().rstrip(","))
                rest = rest[m.end():]
                break
        else:
            break
    m = _TRAILING.search(rest)
    if m and m.start() >= 12:
        frame_parts.append(m.group(0).strip(" ,"))
        # '"..., Article 10 of the Washington Treaty," the text reads.': the comma ends the quote, not the claim
        before = re.sub(r"[,;]\s*([\u201d\"]?)$", r"\1", rest[:m.start()].rstrip())
        rest = before + (rest[m.end():] or ".")
    if not frame_parts:
        return "", text.strip()
    rest = rest.strip()
    return " … ".join(frame_parts), rest[:1].upper() + rest[1:]
