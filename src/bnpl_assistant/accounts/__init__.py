"""The BNPL domain: customers, orders and payment plans behind ``AccountsService``, and the demo seed.
The tables live in the one database (``bnpl_assistant.storage``)."""
