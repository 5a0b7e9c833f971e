"""The words each synthetic task speaks and the label sets they map to."""

from __future__ import annotations

DIGIT_WORDS: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
COMMAND_WORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")

#: Words outside the keyword set, labelled ``unknown``. The first fifteen are Speech Commands
#: v2's auxiliary words; none is a homophone of a keyword ("to", "for", "ate", "know", "write").
UNKNOWN_WORDS: tuple[str, ...] = (
    "bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow",
    "backward", "forward", "follow", "learn", "visual",
    "apple", "river", "window", "table", "garden", "yellow", "purple", "music", "paper",
    "water", "coffee", "pencil", "rabbit", "silver", "monkey",
)  # fmt: skip

SILENCE = "silence"
UNKNOWN = "unknown"
BLANK = "<blank>"
OH = "oh"

#: ``commands`` classes: ten digits, ten commands, then silence and unknown.
COMMAND_CLASSES: tuple[str, ...] = (*DIGIT_WORDS, *COMMAND_WORDS, SILENCE, UNKNOWN)

#: ``digits`` CTC tokens: blank at index 0, the ten digits, and "oh" (zero said as a letter).
DIGIT_TOKENS: tuple[str, ...] = (BLANK, *DIGIT_WORDS, OH)

#: Words the background talkers of babble noise say.
BABBLE_WORDS: tuple[str, ...] = (*DIGIT_WORDS, *COMMAND_WORDS, *UNKNOWN_WORDS)
