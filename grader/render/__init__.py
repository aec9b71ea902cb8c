"""Render: put a result in the reader's language and write what each reader sees."""
