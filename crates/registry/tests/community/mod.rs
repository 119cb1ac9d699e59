//! Reviews, ratings, discussions and moderation over real HTTP, on both
//! backends: a review needs an install receipt of the reviewer's own
//! account for that version; moderators hide content and the audit names
//! them; the spam filter and the report threshold hide content and say so.

use lord_registry::Scope;
use lord_registry_client::ClientError;

use crate::{Backend, Running, Spec};

fn account(r: &Running, scope: &str, name: &str) -> String {
    r.registry
        .db
        .create_named_token(&Scope::parse(scope).expect("scope"), name)
        .expect("token")
}

fn on<T>(r: &Running, work: impl std::future::Future<Output = T>) -> T {
    r.runtime.block_on(work)
}

fn refused(result: Result<impl std::fmt::Debug, ClientError>) -> String {
    result.expect_err("refused").to_string()
}

pub(crate) fn a_review_needs_an_install_receipt_of_the_reviewers_own_account(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    r.publish(&Spec::default()).expect("publish");
    r.publish(&Spec {
        version: "0.2.0",
        ..Spec::default()
    })
    .expect("publish");
    let alice = account(&r, "account", "alice");
    let bob = account(&r, "account", "bob");

    // No install, no review: a made-up receipt, and none at all.
    let message = refused(on(
        &r,
        r.client
            .review(&bob, "hello", "0.1.0", 5, "great", "made.up"),
    ));
    assert!(
        message.contains("not one this registry issued"),
        "{message}"
    );
    let receipt = on(&r, r.client.receipt(&alice, "hello", "0.1.0")).expect("alice downloads");
    // Someone else's receipt, or one for another version, does not do.
    let message = refused(on(
        &r,
        r.client
            .review(&bob, "hello", "0.1.0", 1, "bad", &receipt.text),
    ));
    assert!(message.contains("belongs to another account"), "{message}");
    let message = refused(on(
        &r,
        r.client
            .review(&alice, "hello", "0.2.0", 5, "ok", &receipt.text),
    ));
    assert!(message.contains("not hello 0.2.0"), "{message}");
    assert!(
        on(&r, r.client.reviews("hello"))
            .expect("reviews")
            .is_empty()
    );

    // The installer's review, then an edit of it: one review, edit kept.
    let first = on(
        &r,
        r.client
            .review(&alice, "hello", "0.1.0", 2, "Slow to start.", &receipt.text),
    )
    .expect("review");
    assert_eq!(
        (first.author.as_str(), first.stars, first.edits),
        ("alice", 2, 0)
    );
    let edited = on(
        &r,
        r.client.review(
            &alice,
            "hello",
            "0.1.0",
            4,
            "Fast after 0.1.1.",
            &receipt.text,
        ),
    )
    .expect("edit");
    assert_eq!((edited.id, edited.stars, edited.edits), (first.id, 4, 1));
    let listed = on(&r, r.client.reviews("hello")).expect("reviews");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].text, "Fast after 0.1.1.");
    let info = on(&r, r.client.plugin("hello"))
        .expect("plugin")
        .expect("known");
    assert_eq!((info.summary.ratings, info.summary.rating), (1, 4.0));
    // The receipt rates too.
    on(&r, r.client.rate(&alice, "hello", 5, &receipt.text)).expect("rate");
    let info = on(&r, r.client.plugin("hello"))
        .expect("plugin")
        .expect("known");
    assert_eq!((info.summary.ratings, info.summary.rating), (1, 5.0));
    let message = refused(on(&r, r.client.rate(&bob, "hello", 1, &receipt.text)));
    assert!(message.contains("belongs to another account"), "{message}");
}

pub(crate) fn moderation_hides_content_and_the_audit_names_the_moderator(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    r.publish(&Spec::default()).expect("publish");
    let alice = account(&r, "account", "alice");
    let bob = account(&r, "account", "bob");
    let carol = account(&r, "account", "");
    let mia = account(&r, "moderate", "mia");
    let receipt = on(&r, r.client.receipt(&alice, "hello", "0.1.0")).expect("receipt");
    let review = on(
        &r,
        r.client.review(
            &alice,
            "hello",
            "0.1.0",
            1,
            "Rude words here.",
            &receipt.text,
        ),
    )
    .expect("review");
    let post = on(&r, r.client.post(&bob, "hello", "Does it greet in French?")).expect("post");
    assert_eq!(on(&r, r.client.posts("hello")).expect("posts").len(), 1);

    // Anyone reports; only a moderator hides, and reads the audit.
    on(&r, r.client.report(&bob, "review", review.id, "insulting")).expect("report");
    let message = refused(on(
        &r,
        r.client.moderate(&alice, "review", review.id, true, "mine"),
    ));
    assert!(message.contains("may not moderate"), "{message}");
    let message = refused(on(&r, r.client.audit(&alice)));
    assert!(message.contains("only moderators"), "{message}");
    on(
        &r,
        r.client
            .moderate(&mia, "review", review.id, true, "insults another user"),
    )
    .expect("hide");
    assert!(
        on(&r, r.client.reviews("hello"))
            .expect("reviews")
            .is_empty()
    );
    let info = on(&r, r.client.plugin("hello"))
        .expect("plugin")
        .expect("known");
    assert_eq!(
        info.summary.ratings, 0,
        "a hidden review's stars stop counting"
    );
    // Its author cannot bring it back by editing it, nor count its stars
    // by rating apart: only a moderator shows it again.
    let edited = on(
        &r,
        r.client.review(
            &alice,
            "hello",
            "0.1.0",
            5,
            "Polite words now.",
            &receipt.text,
        ),
    )
    .expect("edit");
    assert!(edited.hidden, "an edit showed a hidden review");
    assert!(
        on(&r, r.client.reviews("hello"))
            .expect("reviews")
            .is_empty()
    );
    let message = refused(on(&r, r.client.rate(&alice, "hello", 5, &receipt.text)));
    assert!(message.contains("is hidden"), "{message}");
    let info = on(&r, r.client.plugin("hello"))
        .expect("plugin")
        .expect("known");
    assert_eq!(info.summary.ratings, 0, "{:?}", info.summary);

    // The spam filter holds a post back at once; three reports hide one.
    let spam = on(
        &r,
        r.client
            .post(&carol, "hello", "FREE MONEY at www.a.example www.b.example"),
    )
    .expect("post");
    assert!(spam.hidden);
    for token in [&alice, &carol, &mia] {
        on(&r, r.client.report(token, "post", post.id, "off topic")).expect("report");
    }
    assert!(on(&r, r.client.posts("hello")).expect("posts").is_empty());

    let audit = on(&r, r.client.audit(&mia)).expect("audit");
    let line = |moderator: &str, action: &str, kind: &str, target: i64| {
        audit.iter().any(|e| {
            e.moderator == moderator && e.action == action && e.kind == kind && e.target == target
        })
    };
    assert!(line("mia", "hide", "review", review.id), "{audit:#?}");
    assert!(
        audit
            .iter()
            .any(|e| e.moderator == "mia" && e.reason == "insults another user"),
        "{audit:#?}"
    );
    assert!(line("bob", "report", "review", review.id), "{audit:#?}");
    assert!(line("spam filter", "hide", "post", spam.id), "{audit:#?}");
    assert!(
        line("report threshold", "hide", "post", post.id),
        "{audit:#?}"
    );
    assert!(
        audit.iter().any(|e| e.moderator.starts_with("account ")),
        "an unnamed account shows by number: {audit:#?}"
    );

    // Shown again, it counts again.
    on(
        &r,
        r.client
            .moderate(&mia, "review", review.id, false, "apologised"),
    )
    .expect("show");
    assert_eq!(on(&r, r.client.reviews("hello")).expect("reviews").len(), 1);
    assert!(on(&r, r.client.audit(&mia)).expect("audit")[0].action == "show");
    let info = on(&r, r.client.plugin("hello"))
        .expect("plugin")
        .expect("known");
    assert_eq!((info.summary.ratings, info.summary.rating), (1, 5.0));
}
