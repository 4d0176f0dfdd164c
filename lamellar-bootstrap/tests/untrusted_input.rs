//! What arrives from outside the process, fuzzed: PMI-1 lines and whole replies from a launcher,
//! and node cards published by peers. Nothing may panic or hang; what is not understood is an
//! error. `cargo test -p lamellar-bootstrap --test untrusted_input` runs each property 256
//! times (proptest's default); the long run is `PROPTEST_CASES=10000000` on the pure ones
//! (`cargo test --release -p lamellar-bootstrap --test untrusted_input -- parse card`).

use lamellar_bootstrap::PeCard;
use lamellar_bootstrap::pmi::PmiClient;
use lamellar_bootstrap::wire::{Message, is_legal_token};
use proptest::prelude::*;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

proptest! {
    /// Any line parses to a message or an error.
    #[test]
    fn parse_never_panics(line in any::<String>()) {
        let _ = Message::parse(&line);
    }

    /// Lines made of PMI-looking words, the inputs most likely to reach every branch.
    #[test]
    fn parse_pmi_like_lines(words in prop::collection::vec("(cmd|mcmd|rc|[a-z_]{1,8})(=[a-z0-9_=]{0,8})?", 0..10)) {
        let line = words.join(" ");
        if let Ok(m) = Message::parse(&line) {
            prop_assert!(line.contains("cmd="));
            prop_assert!(m.args.iter().all(|(k, _)| k != "cmd" && k != "mcmd"));
        }
    }

    /// What one side writes, the other reads back unchanged.
    #[test]
    fn legal_messages_round_trip(
        cmd in "[a-z_]{1,16}",
        args in prop::collection::vec(("[a-zA-Z0-9_]{1,16}", "[!-<>-~]{1,32}"), 0..8),
    ) {
        let args: Vec<(String, String)> = args.into_iter().filter(|(k, _)| k != "cmd" && k != "mcmd").collect();
        prop_assert!(args.iter().all(|(k, v)| is_legal_token(k, 64) && is_legal_token(v, 64)));
        let m = Message { cmd, args };
        prop_assert_eq!(Message::parse(&m.to_line()).unwrap(), m);
    }

    /// A peer's node card, whatever its bytes, decodes or is refused.
    #[test]
    fn card_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = PeCard::decode(&bytes);
    }

    /// A card decodes to what was encoded (mask words up to the last non-zero one).
    #[test]
    fn card_round_trip(host in "[a-z0-9.:/-]{1,40}", cpus in prop::collection::vec(any::<u64>(), 1..17)) {
        let card = PeCard { host, cpus };
        let back = PeCard::decode(&card.encode()).expect("an encoded card decodes");
        let last = card.cpus.iter().rposition(|&w| w != 0).unwrap_or(0);
        prop_assert_eq!(&back.host, &card.host);
        prop_assert_eq!(&back.cpus[..], &card.cpus[..=last]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A launcher that answers the handshake with arbitrary bytes, then hangs up: the client
    /// returns (an error naming the launcher, or a session), never panics, never waits past
    /// its read timeout.
    #[test]
    fn pmi_client_survives_any_reply(reply in prop::collection::vec(any::<u8>(), 0..300)) {
        let (server, client) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            let mut s = server;
            let _ = s.write_all(&reply);
        });
        let start = std::time::Instant::now();
        let r = PmiClient::over_socket(client, 0, 1, Duration::from_millis(500));
        prop_assert!(start.elapsed() < Duration::from_secs(5), "took {:?}", start.elapsed());
        if let Err(e) = r {
            prop_assert!(matches!(e, lamellar_bootstrap::Error::Launcher(_)), "{e:?}");
        }
        writer.join().unwrap();
    }
}
