"""NLU benchmarks on third-party Chinese and Japanese data (never run in CI).

`python -m benchmarks.run <dataset>` trains the project's NLU pipeline (or a variant) on
converted third-party data and prints intent accuracy and macro-F1 beside the published
reference; `python -m benchmarks.report` turns the recorded runs into a Markdown table.
See docs/nlu.md.
"""
