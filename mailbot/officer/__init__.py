"""The officer's side of the call: who is expected to submit (the roster), and what each unit has sent."""
