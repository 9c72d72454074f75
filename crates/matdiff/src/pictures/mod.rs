//! Pictures of the seminar's geometry, drawn with plotters: filled contours of a loss
//! over a plane with gradient arrows and descent trajectories ([`contour`]), and the
//! tangent line of a function of one variable with the gap `o(h)` ([`tangent`]).
//!
//! [`plane`] computes what the pictures show — the loss restricted to two coordinates,
//! its values on a grid, the gradient arrows and the trajectories of the real solvers —
//! so that `matdiff plot` and `matdiff demo` draw the same things.

pub mod contour;
/// The numbers of a contour picture, computed by the library.
pub use matdiff::plane;
pub mod tangent;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

/// A picture that can render itself on any plotters backend.
pub trait Picture {
    /// Draws the picture on `root`.
    fn render<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static;
}

/// Draws `picture` at `size` pixels into `out`: a file, PNG or SVG by its extension,
/// or SVG text.
pub fn draw(picture: &impl Picture, out: Output<'_>, size: (u32, u32)) -> Result<(), String> {
    match out {
        Output::File(path) => {
            let format = Format::of(path)?;
            create_file(path)?;
            match format {
                Format::Png => {
                    present(picture, &BitMapBackend::new(path, size).into_drawing_area())
                }
                Format::Svg => present(picture, &SVGBackend::new(path, size).into_drawing_area()),
            }
        }
        Output::Svg(text) => present(
            picture,
            &SVGBackend::with_string(text, size).into_drawing_area(),
        ),
    }
}

/// Renders `picture` on `root` and writes it out.
fn present<DB: DrawingBackend>(
    picture: &impl Picture,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    picture.render(root)?;
    root.present().map_err(|e| e.to_string())
}

/// The size of a picture when `--size` is not given: readable on a screen and a slide.
pub const DEFAULT_SIZE: (u32, u32) = (1000, 800);

/// Where a picture is drawn: a file (PNG or SVG by its extension), or SVG text in
/// memory (what `matdiff serve` sends to the page; nothing is written to disk).
pub enum Output<'a> {
    /// A file.
    File(&'a Path),
    /// SVG text, appended to the string.
    Svg(&'a mut String),
}

/// Image formats, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A bitmap.
    Png,
    /// Vector graphics.
    Svg,
}

impl Format {
    /// The format of `path` by its extension (`.png` or `.svg`, any case).
    pub fn of(path: &Path) -> Result<Format, String> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(format!(
                "`{}` is neither .png nor .svg — name the picture e.g. paths.png",
                path.display()
            )),
        }
    }
}

/// Creates (or truncates) the picture's file before drawing, so that a missing folder or
/// a file that cannot be written is reported as such, not as a drawing backend's error.
pub fn create_file(path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(format!(
                "the folder `{}` does not exist — create it or write the picture elsewhere",
                dir.display()
            ));
        }
    }
    std::fs::File::create(path)
        .map(drop)
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

/// Parses `WxH` (e.g. `1000x800`) into pixels; each side between 100 and 10000.
pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("--size `{text}` is not WIDTHxHEIGHT in pixels — write e.g. 1000x800");
    let (w, h) = text.split_once(['x', 'X', '×']).ok_or_else(bad)?;
    let side = |s: &str| -> Result<u32, String> {
        let v: u32 = s.trim().parse().map_err(|_| bad())?;
        if (100..=10_000).contains(&v) {
            Ok(v)
        } else {
            Err(format!(
                "--size `{text}`: each side must be between 100 and 10000 pixels"
            ))
        }
    };
    Ok((side(w)?, side(h)?))
}

/// Colours of the trajectories, in the order of the runs: saturated, so that they stand
/// out on the pale contour fill.
pub const RUN_COLOURS: [(u8, u8, u8); 8] = [
    (214, 39, 40),
    (31, 90, 200),
    (0, 0, 0),
    (255, 127, 14),
    (44, 150, 44),
    (148, 60, 189),
    (140, 86, 75),
    (227, 60, 194),
];

/// The font family of every text in the pictures.
pub const FONT: &str = "sans-serif";

/// DejaVu Sans (Bitstream Vera license, `assets/DejaVuSans-LICENSE.txt`), compiled in so
/// that text renders on a machine without fonts: it covers the Greek letters, arrows
/// and symbols the legends use (η, ∇, ‖, ε, ●, ■, ✕, →).
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the bundled font as plotters' `sans-serif` (the family every picture of
/// the command line asks for, `matdiff minimize --plot` included). Call it once before
/// drawing; calling it again is harmless.
pub fn register_fonts() {
    // The bytes are a valid font; should registration fail anyway, drawing text
    // reports the missing font instead.
    let _ = plotters::style::register_font(FONT, plotters::style::FontStyle::Normal, DEJAVU_SANS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_formats_parse_or_say_what_to_write() {
        type Case<'a> = (&'a str, Result<(u32, u32), &'a str>);
        let cases: [Case; 5] = [
            ("1000x800", Ok((1000, 800))),
            ("640X480", Ok((640, 480))),
            ("10x800", Err("between 100 and 10000")),
            ("1000", Err("WIDTHxHEIGHT")),
            ("ax3", Err("WIDTHxHEIGHT")),
        ];
        for (text, expected) in cases {
            match (parse_size(text), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: {got:?} vs {want:?}"),
            }
        }
        assert_eq!(Format::of(Path::new("a/b.PNG")), Ok(Format::Png));
        assert_eq!(Format::of(Path::new("b.svg")), Ok(Format::Svg));
        assert!(Format::of(Path::new("b.pdf")).is_err());
    }
}
