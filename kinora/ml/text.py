"""Input checks shared by the text classifiers (moderation, restrictions)."""


def checked_prompt(prompt, max_chars: int) -> str:
    """The prompt itself, or ValueError with a sentence a person understands."""
    if not isinstance(prompt, str):
        raise ValueError("prompt must be text")
    if not prompt.strip():
        raise ValueError("prompt is empty")
    if len(prompt) > max_chars:
        raise ValueError(f"prompt is {len(prompt)} characters; the limit is {max_chars}")
    return prompt
