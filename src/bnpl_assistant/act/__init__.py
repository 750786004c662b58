"""Account actions in the chat: the signed-in customer asks about or changes their own account.

``agent.AccountAgent`` is the entry point (``plan`` then ``perform``). The parts, each with one job:
``intents`` (is this an account request, and which action), ``slots`` and ``resolve`` (which order),
``toolcall`` (a chat model choosing the action by function calling), ``registry`` (one entry per action),
``state`` (the pending confirm/clarify question), ``views`` and ``replies`` (the reply texts, from the
template data read by ``answer.templates``), ``perform`` (carrying a plan out). Policy and eligibility are the
accounts service's (``accounts.service``), never decided here.
"""
