from __future__ import annotations

import json

import pytest

from readloom.errors import InputError
from readloom.retrieval.passages import load_file, load_paths, slugify

STORY = (
    "Nadia found a small green frog under the garden tap. It hopped onto her boot and "
    "sat very still.\n\nShe carried it gently to the pond at the bottom of the garden, "
    "where its friends were singing."
)


def test_markdown_front_matter(write) -> None:
    path = write(
        "frog.md",
        "---\npassage_id: nadia-frog\ntitle: Nadia and the Frog\ngrade: 3\ngenre: fiction\n"
        "topics: [animals, gardens]\ncharacters: [Nadia]\n---\n" + STORY + "\n",
    )
    (passage,) = load_file(path)
    assert passage.passage_id == "nadia-frog"
    assert passage.title == "Nadia and the Frog"
    assert passage.grade == 3
    assert passage.genre == "fiction"
    assert passage.topics == ["animals", "gardens"]
    assert passage.characters == ["Nadia"]
    assert passage.text == STORY


def test_markdown_without_front_matter_uses_heading_and_file_name(write) -> None:
    path = write("The Green Frog!.md", "# The Green Frog\n\n" + STORY)
    (passage,) = load_file(path)
    assert passage.passage_id == "the-green-frog"
    assert passage.title == "The Green Frog"
    assert passage.text == STORY
    assert passage.genre == "other"
    assert 1 <= passage.grade <= 12  # estimated by readability


def test_txt_title_from_first_line(write) -> None:
    (passage,) = load_file(write("frog_story.txt", "The Garden Frog\n\n" + STORY))
    assert passage.title == "The Garden Frog"
    assert passage.text == STORY
    assert passage.passage_id == "frog-story"
    assert passage.genre == "other"
    assert 1 <= passage.grade <= 12


def test_txt_title_from_file_name_when_first_line_is_prose(write) -> None:
    (passage,) = load_file(write("garden_frog.txt", STORY.replace("\n\n", "\r\n\r\n")))
    assert passage.title == "Garden Frog"
    assert passage.text == STORY  # CRLF normalised


def test_jsonl_one_passage_per_line(write) -> None:
    lines = [
        {"passage_id": "a-1", "title": "First", "text": STORY, "grade": 2, "genre": "fiction"},
        {"title": "Second", "text": "Rain fell on the roof all night long. " * 5},
    ]
    path = write("batch.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    first, second = load_file(path)
    assert (first.passage_id, first.grade, first.genre) == ("a-1", 2, "fiction")
    assert second.passage_id == "batch-2"
    assert second.title == "Second"
    assert second.genre == "other"


def test_jsonl_errors_name_the_line(write) -> None:
    path = write("bad.jsonl", json.dumps({"text": STORY}) + "\n{not json\n")
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        load_file(path)
    path = write("bad2.jsonl", json.dumps({"text": STORY, "grade": 40}) + "\n")
    with pytest.raises(InputError, match=r"bad2.jsonl:1.*grade"):
        load_file(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.md", "---\ntitle: Empty\n---\n  \n", "no text"),
        ("bad.md", "---\ntitle: [unclosed\n---\n" + STORY, "front matter"),
        ("bad-id.md", "---\npassage_id: ../etc\n---\n" + STORY, "passage_id"),
        ("notes.pdf", STORY, "unsupported"),
    ],
)
def test_invalid_files(write, name: str, content: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_file(write(name, content))


def test_folder_loading_skips_readme_and_rejects_duplicate_ids(tmp_path, write) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "README.md").write_text("# About this folder\n\nNot a passage.", encoding="utf-8")
    (folder / "one.txt").write_text(STORY, encoding="utf-8")
    (folder / "two.md").write_text("---\ngrade: 4\n---\n" + STORY, encoding="utf-8")
    assert [p.passage_id for p in load_paths([folder])] == ["one", "two"]
    (folder / "sub").mkdir()
    (folder / "sub" / "one.md").write_text(STORY, encoding="utf-8")
    with pytest.raises(InputError, match="'one'"):
        load_paths([folder])


def test_slugify() -> None:
    assert slugify("Ça va? Très bien!") == "ca-va-tres-bien"
    assert slugify("***") == "passage"
