//! The page's files, compiled into the binary: the hand-written HTML, CSS and
//! JavaScript (`assets/web/`), and KaTeX with its fonts (`assets/katex/`, vendored
//! from the npm package; see `assets/katex/SOURCE.md`). No CDN, no network.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// One file served: its path under `/`, its media type and its bytes.
pub struct Asset {
    /// The path after `/`: `app.js`, `katex/fonts/KaTeX_Main-Regular.woff2`.
    pub path: &'static str,
    /// The `Content-Type`.
    pub media_type: &'static str,
    /// The content.
    pub bytes: &'static [u8],
}

macro_rules! font {
    ($name:literal) => {
        Asset {
            path: concat!("katex/fonts/", $name),
            media_type: "font/woff2",
            bytes: include_bytes!(concat!("../../assets/katex/fonts/", $name)),
        }
    };
}

/// Every file of the page.
pub static ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        media_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../assets/web/index.html"),
    },
    Asset {
        path: "app.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/web/app.js"),
    },
    Asset {
        path: "style.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/web/style.css"),
    },
    Asset {
        path: "katex/katex.min.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/katex/katex.min.js"),
    },
    Asset {
        path: "katex/katex.min.css",
        media_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/katex/katex.min.css"),
    },
    Asset {
        path: "katex/LICENSE",
        media_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../../assets/katex/LICENSE"),
    },
    font!("KaTeX_AMS-Regular.woff2"),
    font!("KaTeX_Caligraphic-Bold.woff2"),
    font!("KaTeX_Caligraphic-Regular.woff2"),
    font!("KaTeX_Fraktur-Bold.woff2"),
    font!("KaTeX_Fraktur-Regular.woff2"),
    font!("KaTeX_Main-Bold.woff2"),
    font!("KaTeX_Main-BoldItalic.woff2"),
    font!("KaTeX_Main-Italic.woff2"),
    font!("KaTeX_Main-Regular.woff2"),
    font!("KaTeX_Math-BoldItalic.woff2"),
    font!("KaTeX_Math-Italic.woff2"),
    font!("KaTeX_SansSerif-Bold.woff2"),
    font!("KaTeX_SansSerif-Italic.woff2"),
    font!("KaTeX_SansSerif-Regular.woff2"),
    font!("KaTeX_Script-Regular.woff2"),
    font!("KaTeX_Size1-Regular.woff2"),
    font!("KaTeX_Size2-Regular.woff2"),
    font!("KaTeX_Size3-Regular.woff2"),
    font!("KaTeX_Size4-Regular.woff2"),
    font!("KaTeX_Typewriter-Regular.woff2"),
];

/// The file at `path`, if the page has one.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

fn respond(asset: &'static Asset) -> Response {
    (
        [
            (header::CONTENT_TYPE, asset.media_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.bytes,
    )
        .into_response()
}

/// `GET /`: the page.
pub async fn index() -> Response {
    match find("index.html") {
        Some(asset) => respond(asset),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /PATH`: one of the page's files, or 404.
pub async fn asset(Path(path): Path<String>) -> Response {
    match find(&path) {
        Some(asset) => respond(asset),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every font the stylesheet asks for in WOFF2 is served.
    #[test]
    fn every_woff2_font_of_the_stylesheet_is_served() {
        let css = std::str::from_utf8(find("katex/katex.min.css").unwrap().bytes).unwrap();
        let wanted: Vec<&str> = css
            .split("url(")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .filter(|url| url.ends_with(".woff2"))
            .collect();
        assert!(wanted.len() >= 19, "{wanted:?}");
        for url in wanted {
            assert!(
                find(&format!("katex/{url}")).is_some(),
                "{url} is not served"
            );
        }
    }
}
