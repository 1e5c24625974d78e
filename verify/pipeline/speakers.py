"""Who a document's speakers are and which side each speaks for, as far as the document
tells: its publisher, its named speaker and everyone its sentences are attributed to.

The store records what this finds (``Corpus.add_document``, ``Corpus.set_attributions``)
by its own rule: the desk's word is never overwritten, and a speaker without a side takes
the first side a later document gives them.
"""
from __future__ import annotations

from verify.pipeline.sides import affiliation
from verify.store.records import Document, Speaker


def _unnamed(name: str) -> bool:
    """"spokesman", "a senior official", "officials": a role with no name in it."""
    return not any(c.isupper() for c in name)


def infer_speakers(doc: Document) -> list[Speaker]:
    """The speakers of ``doc`` (its sentences attributed: ``verify.pipeline.attribute``),
    each with the side their role, their name or the publisher implies.

    An unnamed role in a publisher's document ("The spokesman confirmed that ...") is the
    publisher's: the sentence's speaker is written as the publisher's ("U.S. Department of
    State spokesman"), so that two publishers' spokesmen are two speakers, each with their
    publisher's side.
    """
    found: dict[str, Speaker] = {}
    publisher_side = affiliation(doc.publisher)
    if doc.publisher:
        found[doc.publisher] = Speaker(doc.publisher, publisher_side, "publisher", "inferred from the publisher's name")
    # Someone speaking in a document an organisation publishes as its own (a transcript, or
    # the document's named speaker) speaks for that organisation unless their role says otherwise.
    by_publisher = f"inferred from the publisher, {doc.publisher}" if publisher_side else "no side named"
    if doc.speaker:
        side = doc.affiliation or affiliation(doc.speaker) or publisher_side
        found[doc.speaker] = Speaker(doc.speaker, side, None, "given at ingest" if doc.affiliation else by_publisher)
    for span in doc.sentences:
        name = span.speaker
        if not name or span.attribution in (None, "document speaker"):
            continue
        side = affiliation(span.role) or affiliation(name)
        source = f"inferred from \u201c{span.role}\u201d" if span.role and side else "no side named"
        if not side and doc.publisher and _unnamed(name):
            name = span.speaker = f"{doc.publisher} {name}"
            side, source = publisher_side, by_publisher
        if not side and span.attribution == "transcript" and publisher_side:
            side, source = publisher_side, by_publisher
        if name not in found or (side and not found[name].affiliation):
            found[name] = Speaker(name, side, span.role, source)
    return list(found.values())
