"""fragscope's storage: models, vocabularies, engine factory, writer and migrations.

Importing this package does no I/O. db imports none of fragscope's other packages.
"""
