"""``grade serve``: a course's own hand-in, grading queue and live class view.

The stages, one module each: ``models`` (the tables), ``database`` (engine and
migrations), ``jobs`` (the durable queue), ``worker`` (grades a job with the
batch's engine), ``accounts`` (roster, links, instructors), ``permissions``,
``csrf``, ``standing`` (which score counts, the class document), ``app``
(pages and API), ``client`` (``grade login`` / ``grade submit``).
"""
