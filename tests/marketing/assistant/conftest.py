from tests.marketing.assistant.talk import reader  # noqa: F401  (the dialogue tests' fixed reading)
