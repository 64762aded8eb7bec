"""Hypothesis strategies for domain values, shared by the property tests."""

from hypothesis import strategies as st

from actors.conversation.model import ContentKind, ContentPart, Item, ItemStatus, ItemType, Role

text = st.none() | st.text(max_size=8)
parts = st.builds(
    ContentPart,
    kind=st.sampled_from(ContentKind),
    text=text,
    audio=text,
    transcript=text,
    reference_id=text,
    image_url=text,
    detail=text,
)
items = st.builds(
    Item,
    id=st.text(min_size=1, max_size=8),
    type=st.sampled_from(ItemType),
    status=st.sampled_from(ItemStatus),
    role=st.none() | st.sampled_from(Role),
    content=st.lists(parts, max_size=3).map(tuple),
    call_id=text,
    name=text,
    arguments=text,
    output=text,
)
