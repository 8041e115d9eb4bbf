"""The book's side: what the notebooks call to build each chapter's tables and figures.

``context`` turns a notebook's parameters into a :class:`~lbgap.book.context.Context` (and, outside ``results``
mode, runs the chapter's ``compute``); ``paper`` reads the paper's tables from data/paper; ``style`` formats cells
and tables; ``coverage`` says which networks have records and why the others have none. Then one module per page:
``front`` (intro), ``sb_vs_lb``, ``sharpness``, ``parametric``, ``threshold``, ``warmstart``, ``trajectory``,
``remedies``, ``batch_vs_iterations``, ``gradient_noise`` and ``reproducibility``; each notebook cell calls one
of its page's ``show_*`` functions (or a table function whose frame the cell shows).
"""
