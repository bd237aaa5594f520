/** Characters drawn 2 rows lower (their descenders go below the line). */
export const FONT_DESCENDERS = 'gpqy';
/** Printable ASCII and a few symbols (σ Δ ± … — →): a 5×7 bitmap font drawn for this file. */
export const FONT_CHARS = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\u03c3\u0394\u00b1\u2026\u2014\u2192";
/** 7 base-32 digits per glyph, one per row, the 5 bits of a row from left (16) to right (1). */
export const FONT_ROWS =
  '00000004444404aaa0000aavavaa4fke5u4op248j3cik8lid44800002488842842224804lel40044v4400000c48000v00000000cc01248g0ehjlphe4c4444eeh1248vv2421he26aiv22vgu11he68guhhev124888ehhehheehhf12c0cc0cc00cc0c48248g84200v0v008421248eh12404eh1dlleehhvhhhuhhuhhuehggghesihhhisvgguggvvggugggehgnhhfhhhvhhhe44444e72222ichikokihggggggvhrllhhhhhpljhhehhhhheuhhugggehhhliduhhukihfgge11uv444444hhhhhhehhhhha4hhhlllahha4ahhhhha444v1248gve88888e0g84210e22222e4ah0000000000v842000000e1fhfggmphhu00egghe11djhhf00ehvge698s888fhhhf1eggmphhh40c444e20622icggikokic44444e00qllhh00mphhh00ehhheuhhhuggfhhhf1100mpggg00ege1u88s889600hhhjd00hhha400hhlla00ha4ahhhhhf1e00v248v244844244444448442448008l20000fihhe04ahhhv44v440v000000l000v000042v240';
