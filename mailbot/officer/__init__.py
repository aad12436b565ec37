"""The officer's side: who is expected (roster), reminders and the daily digest, the compiled plan."""
