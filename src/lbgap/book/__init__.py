"""The book's side: what the notebooks call to build each chapter's tables and figures."""
