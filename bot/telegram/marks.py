"""Commands pasted out of an Arabic reply, with its invisible direction marks.

Arabic replies wrap commands and values in Unicode bidi isolates (see bot.i18n). A user who
copies "/settings times 07:30" out of one may paste the marks along, and then Telegram sees
no command at the start of the message. Such a message is handled once more as if it had
been typed without the marks.
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import ContextTypes

# LRM, RLM, LRE…RLO, LRI…PDI: invisible, never meant as part of a command or its arguments.
MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MARKED_COMMAND = re.compile("^[\u200e\u200f\u202a-\u202e\u2066-\u2069]+/")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def without_marks(update: Update) -> Update | None:
    """The same update with the marks taken out of its text and the command at the start
    marked as one; None when it carries no such command."""
    message = update.message
    if message is None or not message.text:
        return None
    text = MARKS.sub("", message.text)
    command = _COMMAND.match(text)
    if command is None:
        return None
    data = update.to_dict()
    data["message"]["text"] = text
    # Every offset after a mark moved; only the command's own entity matters here.
    data["message"]["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(command[0])}]
    return Update.de_json(data, update.get_bot())


async def marked_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command pasted with direction marks: handled as the command itself."""
    cleaned = without_marks(update)
    if cleaned is not None:
        await context.application.process_update(cleaned)
