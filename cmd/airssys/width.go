package main

import (
	"fmt"
	"unicode"
)

// displayWidth is how many terminal columns s takes: East Asian wide and
// fullwidth characters (CJK, Hangul, kana, fullwidth forms, most emoji)
// take two, combining marks and zero-width characters none, the rest one.
// Counting runes instead misaligns every column after a CJK name.
func displayWidth(s string) int {
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

// runeWidth follows Unicode's East Asian Width (UAX #11) for the blocks
// where W and F characters live; Ambiguous ones count as narrow, as
// terminals outside East Asian locales show them.
func runeWidth(r rune) int {
	switch {
	case r == 0x200B || r == 0x200C || r == 0x200D || r == 0x2060 || r == 0xFEFF:
		return 0 // zero-width space, non-joiner, joiner, word joiner, BOM
	case unicode.In(r, unicode.Mn, unicode.Me):
		return 0 // combining marks (and variation selectors) sit on the previous character
	case isWide(r):
		return 2
	}
	return 1
}

// wideRanges are the blocks of East Asian Width W and F, first and last.
var wideRanges = [...][2]rune{
	{0x1100, 0x115F},   // Hangul Jamo initial consonants
	{0x231A, 0x231B},   // watch, hourglass
	{0x2329, 0x232A},   // angle brackets
	{0x23E9, 0x23EC},   // emoji media controls
	{0x23F0, 0x23F0},   // alarm clock
	{0x23F3, 0x23F3},   // hourglass with sand
	{0x25FD, 0x25FE},   // medium small squares
	{0x2614, 0x2615},   // umbrella, hot beverage
	{0x2648, 0x2653},   // zodiac
	{0x26A1, 0x26A1},   // high voltage
	{0x26AA, 0x26AB},   // circles
	{0x26BD, 0x26BE},   // balls
	{0x26C4, 0x26C5},   // snowman, sun behind cloud
	{0x26D4, 0x26D4},   // no entry
	{0x26EA, 0x26EA},   // church
	{0x26F2, 0x26F5},   // fountain .. sailboat
	{0x26FA, 0x26FD},   // tent .. fuel pump
	{0x2705, 0x2705},   // check mark button
	{0x270A, 0x270B},   // raised fists
	{0x2728, 0x2728},   // sparkles
	{0x274C, 0x274C},   // cross mark
	{0x274E, 0x274E},   // cross mark button
	{0x2753, 0x2755},   // question and exclamation marks
	{0x2757, 0x2757},   // heavy exclamation mark
	{0x2795, 0x2797},   // heavy plus, minus, division
	{0x27B0, 0x27B0},   // curly loop
	{0x27BF, 0x27BF},   // double curly loop
	{0x2B1B, 0x2B1C},   // large squares
	{0x2B50, 0x2B50},   // star
	{0x2B55, 0x2B55},   // heavy large circle
	{0x2E80, 0x303E},   // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
	{0x3041, 0x33FF},   // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK strokes, enclosed, compatibility
	{0x3400, 0x4DBF},   // CJK unified ideographs extension A
	{0x4E00, 0x9FFF},   // CJK unified ideographs
	{0xA000, 0xA4CF},   // Yi
	{0xA960, 0xA97F},   // Hangul Jamo extended A
	{0xAC00, 0xD7A3},   // Hangul syllables
	{0xF900, 0xFAFF},   // CJK compatibility ideographs
	{0xFE10, 0xFE19},   // vertical forms
	{0xFE30, 0xFE6F},   // CJK compatibility forms, small form variants
	{0xFF00, 0xFF60},   // fullwidth forms
	{0xFFE0, 0xFFE6},   // fullwidth signs
	{0x16FE0, 0x18CFF}, // Tangut, Khitan and their components
	{0x1B000, 0x1B2FF}, // kana supplement and extensions, Nushu
	{0x1F004, 0x1F004}, // mahjong red dragon
	{0x1F0CF, 0x1F0CF}, // joker
	{0x1F18E, 0x1F18E}, // AB button
	{0x1F191, 0x1F19A}, // squared CL .. VS
	{0x1F200, 0x1F2FF}, // enclosed ideographic supplement
	{0x1F300, 0x1F64F}, // pictographs, emoticons (a few narrow ones among them count as wide)
	{0x1F680, 0x1F6FF}, // transport and map symbols
	{0x1F7E0, 0x1F7EB}, // large coloured circles and squares
	{0x1F90C, 0x1F9FF}, // supplemental symbols and pictographs
	{0x1FA70, 0x1FAFF}, // symbols and pictographs extended A
	{0x20000, 0x2FFFD}, // CJK unified ideographs extensions B..F, compatibility supplement
	{0x30000, 0x3FFFD}, // CJK unified ideographs extensions G..
}

func isWide(r rune) bool {
	if r < wideRanges[0][0] {
		return false // ASCII and the rest of the narrow start: the common case
	}
	lo, hi := 0, len(wideRanges)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case r < wideRanges[m][0]:
			hi = m
		case r > wideRanges[m][1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// truncateWidth cuts s to at most w columns, ending with "…" when cut.
func truncateWidth(s string, w int) string {
	if displayWidth(s) <= w {
		return s
	}
	used := 0
	for i, r := range s {
		rw := runeWidth(r)
		if used+rw > w-1 { // room for the ellipsis
			return s[:i] + "…"
		}
		used += rw
	}
	return s
}

// count says n things in English: "1 supervisor", "2 supervisors".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
