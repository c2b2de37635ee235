"""The command line: parse, call one library function, print; exit codes 0/1/2/3/4.

May import: anything (lazily, so --help and bad input stay fast).
"""
