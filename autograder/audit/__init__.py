"""The mutation audit: does the hidden suite catch realistic mistakes, and only mistakes?

``corpus`` holds wrong implementations (patches over the reference solutions, one student region
each, with the item they break and the mistake the feedback should name) and correct
implementations in other styles; ``runner`` grades all of them with the real engine; ``report``
writes the Markdown and JSON report of ``grade audit``.
"""
