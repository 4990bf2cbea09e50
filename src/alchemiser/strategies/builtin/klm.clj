;; Built-in 'klm': the same decision tree as the published Composer export "KMLM sorter V4 - Added back nerfed Nova version",
;; rewritten without the export's single-child weight-equal wrappers (alchemiser fmt).
(defsymphony
  "KMLM sorter V4 - Added back nerfed Nova version"
  {:asset-class "EQUITIES" :rebalance-threshold 0.1}
  (filter (stdev-return {:window 5}) (select-top 1)
    [(group "506/38 KMLM (13) - Longer BT"
        [(group "KMLM switcher (single pops)| BT 4/13/22 = A.R. 466% / D.D. 22%"
            [(if (> (rsi "QQQE" {:window 10}) 79)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "VTV" {:window 10}) 79)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(if (> (rsi "VOX" {:window 10}) 79)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(if (> (rsi "TECL" {:window 10}) 79)
                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                      [(if (> (rsi "VOOG" {:window 10}) 79)
                        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                        [(if (> (rsi "VOOV" {:window 10}) 79)
                          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                          [(if (> (rsi "XLP" {:window 10}) 75)
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                            [(if (> (rsi "TQQQ" {:window 10}) 79)
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                              [(if (> (rsi "XLY" {:window 10}) 80)
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                [(if (> (rsi "FAS" {:window 10}) 80)
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                  [(if (> (rsi "SPY" {:window 10}) 80)
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                    [(group "Single Popped KMLM"
                                      [(if (> (rsi "UVXY" {:window 21}) 65)
                                          [(group "BSC"
                                            [(if (> (rsi "SPY" {:window 21}) 30)
                                                [(asset "VIXM" "ProShares VIX Mid-Term Futures ETF")]
                                                [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")])])]
                                          [(group "Combined Pop Bot"
                                            [(if (< (rsi "TQQQ" {:window 10}) 30)
                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                [(if (< (rsi "SOXL" {:window 10}) 30)
                                                  [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                                  [(if (< (rsi "SPXL" {:window 10}) 30)
                                                    [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                                    [(group "Copypasta YOLO GainZs Here"
                                                      [(group "KMLM switcher: TECL, SVIX, or L/S Rotator | BT 4/13/22 = AR 164% / DD 22.2%"
                                                          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                              [(filter (rsi {:window 10}) (select-bottom 1)
                                                                [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")])]
                                                              [(group "Long/Short Rotator with FTLS KMLM SSO UUP | BT 12/10/20 | 15.1/3.5  "
                                                                [(filter (stdev-return {:window 6}) (select-bottom 1)
                                                                    [(asset "UUP" "Invesco DB US Dollar Index Bullish Fund")
                                                                      (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                                      (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")])])])])])])])])])])])])])])])])])])])])])])])])
      (group "1280/26 KMLM (50)"
        [(group "KMLM switcher (single pops)| BT 4/13/22 = A.R. 466% / D.D. 22%"
            [(if (> (rsi "QQQE" {:window 10}) 79)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "VTV" {:window 10}) 79)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(if (> (rsi "VOX" {:window 10}) 79)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(if (> (rsi "TECL" {:window 10}) 79)
                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                      [(if (> (rsi "VOOG" {:window 10}) 79)
                        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                        [(if (> (rsi "VOOV" {:window 10}) 79)
                          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                          [(if (> (rsi "XLP" {:window 10}) 75)
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                            [(if (> (rsi "TQQQ" {:window 10}) 79)
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                              [(if (> (rsi "XLY" {:window 10}) 80)
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                [(if (> (rsi "FAS" {:window 10}) 80)
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                  [(if (> (rsi "SPY" {:window 10}) 80)
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                    [(group "Combined Pop Bot"
                                      [(if (< (rsi "TQQQ" {:window 10}) 30)
                                          [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                          [(if (< (rsi "SOXL" {:window 10}) 30)
                                            [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                            [(if (< (rsi "SPXL" {:window 10}) 30)
                                              [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                              [(if (< (rsi "LABU" {:window 10}) 25)
                                                [(asset "LABU" "Direxion Daily S&P Biotech Bull 3X Shares")]
                                                [(group "KMLM switcher: TECL, SVIX, or L/S Rotator | BT 4/13/22 = AR 164% / DD 22.2%"
                                                  [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                      [(filter (rsi {:window 10}) (select-bottom 2)
                                                        [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                          (asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")
                                                          (asset "SVIX" "-1x Short VIX Futures ETF")])]
                                                      [(filter (rsi {:window 10}) (select-top 1)
                                                        [(asset "SQQQ" "ProShares UltraPro Short QQQ")
                                                          (asset "TLT" "iShares 20+ Year Treasury Bond ETF")])])])])])])])])])])])])])])])])])])])])])
      (group "1200/28 KMLM (43)"
        [(group "KMLM switcher (single pops)| BT 4/13/22 = A.R. 466% / D.D. 22%"
            [(if (> (rsi "QQQE" {:window 10}) 79)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "VTV" {:window 10}) 79)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(if (> (rsi "VOX" {:window 10}) 79)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(if (> (rsi "TECL" {:window 10}) 79)
                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                      [(if (> (rsi "VOOG" {:window 10}) 79)
                        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                        [(if (> (rsi "VOOV" {:window 10}) 79)
                          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                          [(if (> (rsi "XLP" {:window 10}) 75)
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                            [(if (> (rsi "TQQQ" {:window 10}) 79)
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                              [(if (> (rsi "XLY" {:window 10}) 80)
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                [(if (> (rsi "FAS" {:window 10}) 80)
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                  [(if (> (rsi "SPY" {:window 10}) 80)
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                    [(group "Single Popped KMLM"
                                      [(if (> (rsi "UVXY" {:window 21}) 65)
                                          [(group "BSC"
                                            [(if (> (rsi "SPY" {:window 21}) 30)
                                                [(asset "VIXM" "ProShares VIX Mid-Term Futures ETF")]
                                                [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")])])]
                                          [(group "Combined Pop Bot"
                                            [(if (< (rsi "TQQQ" {:window 10}) 30)
                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                [(if (< (rsi "SOXL" {:window 10}) 30)
                                                  [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                                  [(if (< (rsi "SPXL" {:window 10}) 30)
                                                    [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                                    [(group "Copypasta YOLO GainZs Here"
                                                      [(group "KMLM switcher: TECL, SVIX, or L/S Rotator | BT 4/13/22 = AR 164% / DD 22.2%"
                                                          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                              [(filter (rsi {:window 10}) (select-bottom 1)
                                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                                  (asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")
                                                                  (asset "SVIX" "-1x Short VIX Futures ETF")])]
                                                              [(filter (rsi {:window 10}) (select-top 1)
                                                                [(asset "SQQQ" "ProShares UltraPro Short QQQ")
                                                                  (asset "TLT" "iShares 20+ Year Treasury Bond ETF")])])])])])])])])])])])])])])])])])])])])])])])
      (group "520/22 KMLM (23) - Original"
        [(group "KMLM switcher (single pops)| BT 4/13/22 = A.R. 466% / D.D. 22%"
            [(if (> (rsi "QQQE" {:window 10}) 79)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "VTV" {:window 10}) 79)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(if (> (rsi "VOX" {:window 10}) 79)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(if (> (rsi "TECL" {:window 10}) 79)
                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                      [(if (> (rsi "VOOG" {:window 10}) 79)
                        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                        [(if (> (rsi "VOOV" {:window 10}) 79)
                          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                          [(if (> (rsi "XLP" {:window 10}) 75)
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                            [(if (> (rsi "TQQQ" {:window 10}) 79)
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                              [(if (> (rsi "XLY" {:window 10}) 80)
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                [(if (> (rsi "FAS" {:window 10}) 80)
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                  [(if (> (rsi "SPY" {:window 10}) 80)
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                    [(group "Single Popped KMLM"
                                      [(if (> (rsi "UVXY" {:window 21}) 65)
                                          [(group "BSC"
                                            [(if (> (rsi "SPY" {:window 21}) 30)
                                                [(asset "VIXM" "ProShares VIX Mid-Term Futures ETF")]
                                                [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")])])]
                                          [(group "Combined Pop Bot"
                                            [(if (< (rsi "TQQQ" {:window 10}) 30)
                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                [(if (< (rsi "SOXL" {:window 10}) 30)
                                                  [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                                  [(if (< (rsi "SPXL" {:window 10}) 30)
                                                    [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                                    [(group "Copypasta YOLO GainZs Here"
                                                      [(group "KMLM switcher: TECL, SVIX, or L/S Rotator | BT 4/13/22 = AR 164% / DD 22.2%"
                                                          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                              [(filter (rsi {:window 10}) (select-bottom 1)
                                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                                  (asset "SVIX" "-1x Short VIX Futures ETF")])]
                                                              [(group "Long/Short Rotator with FTLS KMLM SSO UUP | BT 12/10/20 | 15.1/3.5  "
                                                                [(filter (stdev-return {:window 6}) (select-bottom 3)
                                                                    [(asset "TMV" nil)
                                                                      (asset "TMF" nil)
                                                                      (asset "SVXY" nil)
                                                                      (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")
                                                                      (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                                      (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")
                                                                      (asset "UUP" "Invesco DB US Dollar Index Bullish Fund")])])])])])])])])])])])])])])])])])])])])])])])])
      (group "530/18 (29)"
        [(group "KMLM Switcher | Anansi Mods"
            [(if (> (rsi "SPY" {:window 10}) 80)
                [(group "Scale-In | VIX+ -> VIX++"
                  [(if (> (rsi "SPY" {:window 10}) 82.5)
                      [(group "VIX Blend++"
                        [(weight-equal
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                              (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                              (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                      [(group "VIX Blend+"
                        [(weight-equal
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                              (asset "VXX" nil)
                              (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])])])]
                [(if (> (rsi "IOO" {:window 10}) 80)
                  [(group "Scale-In | VIX+ -> VIX++"
                    [(if (> (rsi "IOO" {:window 10}) 82.5)
                        [(group "VIX Blend++"
                          [(weight-equal
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                        [(group "VIX Blend+"
                          [(weight-equal
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                (asset "VXX" nil)
                                (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])])])]
                  [(if (> (rsi "QQQ" {:window 10}) 79)
                    [(group "Scale-In | VIX+ -> VIX++"
                      [(if (> (rsi "QQQ" {:window 10}) 82.5)
                          [(group "VIX Blend++"
                            [(weight-equal
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                  (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                  (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                          [(group "VIX Blend+"
                            [(weight-equal
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                  (asset "VXX" nil)
                                  (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])])])]
                    [(if (> (rsi "VTV" {:window 10}) 79)
                      [(group "Scale-In | VIX -> VIX+"
                        [(if (> (rsi "VTV" {:window 10}) 85)
                            [(group "VIX Blend+"
                              [(weight-equal
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                    (asset "VXX" nil)
                                    (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                            [(group "VIX Blend"
                              [(weight-equal
                                  [(asset "VIXY" nil)
                                    (asset "VXX" nil)
                                    (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])])])]
                      [(if (> (rsi "XLP" {:window 10}) 77)
                        [(group "Scale-In | VIX -> VIX+"
                          [(if (> (rsi "XLP" {:window 10}) 85)
                              [(group "VIX Blend+"
                                [(weight-equal
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                      (asset "VXX" nil)
                                      (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                              [(group "VIX Blend"
                                [(weight-equal
                                    [(asset "VIXY" nil)
                                      (asset "VXX" nil)
                                      (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])])])]
                        [(if (> (rsi "XLF" {:window 10}) 81)
                          [(group "Scale-In | VIX -> VIX+"
                            [(if (> (rsi "XLF" {:window 10}) 85)
                                [(group "VIX Blend+"
                                  [(weight-equal
                                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                        (asset "VXX" nil)
                                        (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                                [(group "VIX Blend"
                                  [(weight-equal
                                      [(asset "VIXY" nil)
                                        (asset "VXX" nil)
                                        (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])])])]
                          [(if (> (rsi "RETL" {:window 10}) 82)
                            [(group "Scale-In | BTAL -> VIX"
                              [(if (> (rsi "RETL" {:window 10}) 85)
                                  [(group "VIX Blend"
                                    [(weight-equal
                                        [(asset "VIXY" nil)
                                          (asset "VXX" nil)
                                          (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                                  [(group "BTAL/BIL"
                                    [(weight-equal
                                        [(asset "BTAL" nil)
                                          (asset "BIL" nil)])])])])]
                            [(if (> (rsi "SPY" {:window 70}) 63)
                              [(group "Overbought"
                                [(weight-equal
                                    [(group "AGG > QQQ"
                                        [(if (> (rsi "AGG" {:window 15}) (rsi "QQQ" {:window 15}))
                                            [(group "All 3x Tech"
                                              [(weight-equal
                                                  [(asset "TQQQ" nil)
                                                    (asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")
                                                    (asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")
                                                    (asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                    (asset "ERX" nil)])])]
                                            [(group "GLD/SLV/PDBC"
                                              [(weight-specified
                                                  0.5
                                                  (asset "GLD" nil)
                                                  0.25
                                                  (asset "SLV" nil)
                                                  0.25
                                                  (asset "PDBC" nil))])])])
                                      (group "VIX or Commodities"
                                        [(if (> (rsi "QQQ" {:window 90}) 60)
                                            [(asset "VIXY" nil)]
                                            [(if (> (rsi "QQQ" {:window 14}) 80)
                                              [(asset "VIXY" nil)]
                                              [(if (> (rsi "QQQ" {:window 5}) 90)
                                                [(asset "VIXY" nil)]
                                                [(if (> (rsi "QQQ" {:window 3}) 95)
                                                  [(asset "VIXY" nil)]
                                                  [(group "GLD/SLV/PDBC"
                                                    [(weight-specified
                                                        0.5
                                                        (asset "GLD" nil)
                                                        0.25
                                                        (asset "SLV" nil)
                                                        0.25
                                                        (asset "PDBC" nil))])])])])])])])])]
                              [(group "10. KMLM Switcher | Holy Grail"
                                [(if (> (rsi "VOX" {:window 10}) 79)
                                    [(group "VIX Blend"
                                      [(weight-equal
                                          [(asset "VIXY" nil)
                                            (asset "VXX" nil)
                                            (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                                    [(if (> (rsi "XLP" {:window 10}) 75)
                                      [(group "VIX Blend"
                                        [(weight-equal
                                            [(asset "VIXY" nil)
                                              (asset "VXX" nil)
                                              (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                                      [(if (< (cumulative-return "TQQQ" {:window 6}) -12)
                                        [(if (> (cumulative-return "TQQQ" {:window 1}) 5.5)
                                          [(group "VIX Blend+"
                                            [(weight-equal
                                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                                                  (asset "VXX" nil)
                                                  (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")])])]
                                          [(group "Pops -> KMLM"
                                            [(if (< (rsi "TQQQ" {:window 10}) 31)
                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                [(if (< (rsi "SOXL" {:window 10}) 30)
                                                  [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                                  [(if (< (rsi "SPXL" {:window 10}) 30)
                                                    [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                                    [(group "KMLM Switcher + FNGU"
                                                      [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                          [(filter (rsi {:window 10}) (select-bottom 1)
                                                            [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                              (asset "SVXY" nil)
                                                              (group "50% FNGU / 50% FNGU or Not"
                                                                [(weight-equal
                                                                    [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                      (group "FNGU or Not"
                                                                        [(filter (moving-average-return {:window 20}) (select-top 1)
                                                                            [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                              (asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")
                                                                              (asset "XLE" nil)
                                                                              (asset "XLK" nil)
                                                                              (asset "AGG" nil)])])])])])]
                                                          [(filter (stdev-return {:window 6}) (select-bottom 3)
                                                            [(asset "SVXY" nil)
                                                              (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")
                                                              (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                              (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")
                                                              (asset "UUP" "Invesco DB US Dollar Index Bullish Fund")])])])])])])])])]
                                        [(if (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
                                          [(if (< (moving-average-price "SPY" {:window 3}) (moving-average-price "SPY" {:window 200}))
                                            [(group "Bull Cross "
                                              [(filter (rsi {:window 10}) (select-top 2)
                                                  [(asset "TQQQ" nil)
                                                    (asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")
                                                    (asset "TMF" nil)])])]
                                            [(group "09. Holy Grail | KMLM"
                                              [(if (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
                                                  [(group "KMLM Switcher + FNGU"
                                                    [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                        [(filter (rsi {:window 10}) (select-bottom 1)
                                                          [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                            (asset "SVXY" nil)
                                                            (group "50% FNGU / 50% FNGU or Not"
                                                              [(weight-equal
                                                                  [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                    (group "FNGU or Not"
                                                                      [(filter (moving-average-return {:window 20}) (select-top 1)
                                                                          [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                            (asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")
                                                                            (asset "XLE" nil)
                                                                            (asset "XLK" nil)
                                                                            (asset "AGG" nil)])])])])])]
                                                        [(filter (stdev-return {:window 6}) (select-bottom 3)
                                                          [(asset "SVXY" nil)
                                                            (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")
                                                            (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                            (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")
                                                            (asset "UUP" "Invesco DB US Dollar Index Bullish Fund")])])])]
                                                  [(if (< (rsi "QQQ" {:window 10}) 31)
                                                    [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                    [(if (< (rsi "SPY" {:window 10}) 30)
                                                      [(asset "UPRO" nil)]
                                                      [(if (< (cumulative-return "QQQ" {:window 60}) -12)
                                                        [(asset "BIL" nil)]
                                                        [(if (> (current-price "TQQQ") (moving-average-price "TQQQ" {:window 20}))
                                                          [(if (< (rsi "PSQ" {:window 10}) 32.5)
                                                            [(asset "PSQ" nil)]
                                                            [(group "KMLM Switcher + FNGU"
                                                              [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                                  [(filter (rsi {:window 10}) (select-bottom 1)
                                                                    [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                                      (asset "SVXY" nil)
                                                                      (group "50% FNGU / 50% FNGU or Not"
                                                                        [(weight-equal
                                                                            [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                              (group "FNGU or Not"
                                                                                [(filter (moving-average-return {:window 20}) (select-top 1)
                                                                                    [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                                      (asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")
                                                                                      (asset "XLE" nil)
                                                                                      (asset "XLK" nil)
                                                                                      (asset "AGG" nil)])])])])])]
                                                                  [(filter (stdev-return {:window 6}) (select-bottom 3)
                                                                    [(asset "SVXY" nil)
                                                                      (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")
                                                                      (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                                      (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")
                                                                      (asset "UUP" "Invesco DB US Dollar Index Bullish Fund")])])])])]
                                                          [(group "10/20"
                                                            [(if (> (rsi "IEF" {:window 10}) (rsi "PSQ" {:window 20}))
                                                                [(asset "PSQ" nil)]
                                                                [(asset "QID" nil)])])])])])])])])])]
                                          [(if (> (moving-average-price "SPY" {:window 3}) (moving-average-price "SPY" {:window 200}))
                                            [(group "Bear Cross"
                                              [(filter (rsi {:window 10}) (select-top 2)
                                                  [(asset "SQQQ" "ProShares UltraPro Short QQQ")
                                                    (asset "SPXU" nil)
                                                    (asset "TMF" nil)
                                                    (asset "TMV" nil)])])]
                                            [(group "09. Holy Grail | KMLM"
                                              [(if (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
                                                  [(group "KMLM Switcher + FNGU"
                                                    [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                        [(filter (rsi {:window 10}) (select-bottom 1)
                                                          [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                            (asset "SVXY" nil)
                                                            (group "50% FNGU / 50% FNGU or Not"
                                                              [(weight-equal
                                                                  [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                    (group "FNGU or Not"
                                                                      [(filter (moving-average-return {:window 20}) (select-top 1)
                                                                          [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                            (asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")
                                                                            (asset "XLE" nil)
                                                                            (asset "XLK" nil)
                                                                            (asset "AGG" nil)])])])])])]
                                                        [(filter (stdev-return {:window 6}) (select-bottom 3)
                                                          [(asset "SVXY" nil)
                                                            (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")
                                                            (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                            (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")
                                                            (asset "UUP" "Invesco DB US Dollar Index Bullish Fund")])])])]
                                                  [(if (< (rsi "QQQ" {:window 10}) 31)
                                                    [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                    [(if (< (rsi "SPY" {:window 10}) 30)
                                                      [(asset "UPRO" nil)]
                                                      [(if (< (cumulative-return "QQQ" {:window 60}) -12)
                                                        [(asset "BIL" nil)]
                                                        [(if (> (current-price "TQQQ") (moving-average-price "TQQQ" {:window 20}))
                                                          [(if (< (rsi "PSQ" {:window 10}) 32.5)
                                                            [(asset "PSQ" nil)]
                                                            [(group "KMLM Switcher + FNGU"
                                                              [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                                  [(filter (rsi {:window 10}) (select-bottom 1)
                                                                    [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                                      (asset "SVXY" nil)
                                                                      (group "50% FNGU / 50% FNGU or Not"
                                                                        [(weight-equal
                                                                            [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                              (group "FNGU or Not"
                                                                                [(filter (moving-average-return {:window 20}) (select-top 1)
                                                                                    [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")
                                                                                      (asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")
                                                                                      (asset "XLE" nil)
                                                                                      (asset "XLK" nil)
                                                                                      (asset "AGG" nil)])])])])])]
                                                                  [(filter (stdev-return {:window 6}) (select-bottom 3)
                                                                    [(asset "SVXY" nil)
                                                                      (asset "VIXM" "ProShares VIX Mid-Term Futures ETF")
                                                                      (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                                      (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")
                                                                      (asset "UUP" "Invesco DB US Dollar Index Bullish Fund")])])])])]
                                                          [(group "10/20"
                                                            [(if (> (rsi "IEF" {:window 10}) (rsi "PSQ" {:window 20}))
                                                                [(asset "PSQ" nil)]
                                                                [(asset "QID" nil)])])])])])])])])])])])])])])])])])])])])])])])])
      (group "410/38 (11) - MonkeyBusiness Simons variant"
        [(group "KMLM switcher (single pops)| BT 4/13/22 = A.R. 466% / D.D. 22%"
            [(if (> (rsi "QQQE" {:window 10}) 79)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "VTV" {:window 10}) 79)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(if (> (rsi "VOX" {:window 10}) 79)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(if (> (rsi "TECL" {:window 10}) 79)
                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                      [(if (> (rsi "VOOG" {:window 10}) 79)
                        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                        [(if (> (rsi "VOOV" {:window 10}) 79)
                          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                          [(if (> (rsi "XLP" {:window 10}) 75)
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                            [(if (> (rsi "TQQQ" {:window 10}) 79)
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                              [(if (> (rsi "XLY" {:window 10}) 80)
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                [(if (> (rsi "FAS" {:window 10}) 80)
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                  [(if (> (rsi "SPY" {:window 10}) 80)
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                    [(group "Single Popped KMLM"
                                      [(if (> (rsi "UVXY" {:window 21}) 65)
                                          [(group "BSC"
                                            [(if (> (rsi "SPY" {:window 21}) 30)
                                                [(asset "VIXM" "ProShares VIX Mid-Term Futures ETF")]
                                                [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")])])]
                                          [(group "Combined Pop Bot"
                                            [(if (< (rsi "TQQQ" {:window 10}) 30)
                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                [(if (< (rsi "SOXL" {:window 10}) 30)
                                                  [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                                  [(if (< (rsi "SPXL" {:window 10}) 30)
                                                    [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                                    [(group "Copypasta YOLO GainZs Here"
                                                      [(group "KMLM switcher: TECL, SVIX, or L/S Rotator | BT 4/13/22 = AR 164% / DD 22.2%"
                                                          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                              [(filter (rsi {:window 10}) (select-bottom 1)
                                                                [(asset "FNGU" "MicroSectors FANG+ Index 3X Leveraged ETN")])]
                                                              [(group "Long/Short Rotator with FTLS KMLM SSO UUP | BT 12/10/20 | 15.1/3.5  "
                                                                [(filter (stdev-return {:window 6}) (select-bottom 1)
                                                                    [(asset "UUP" "Invesco DB US Dollar Index Bullish Fund")
                                                                      (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                                      (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")])])])])])])])])])])])])])])])])])])])])])])])])
      (group "Nerfed 2900/8 (373) - Nova - Short BT (remove for longer backtest)"
        [(group "KMLM switcher (single pops)| BT 4/13/22 = A.R. 466% / D.D. 22%"
            [(if (> (rsi "QQQE" {:window 10}) 79)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "VTV" {:window 10}) 79)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(if (> (rsi "VOX" {:window 10}) 79)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(if (> (rsi "TECL" {:window 10}) 79)
                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                      [(if (> (rsi "VOOG" {:window 10}) 79)
                        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                        [(if (> (rsi "VOOV" {:window 10}) 79)
                          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                          [(if (> (rsi "XLP" {:window 10}) 75)
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                            [(if (> (rsi "TQQQ" {:window 10}) 79)
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                              [(if (> (rsi "XLY" {:window 10}) 80)
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                [(if (> (rsi "FAS" {:window 10}) 80)
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                  [(if (> (rsi "SPY" {:window 10}) 80)
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                    [(group "Single Popped KMLM"
                                      [(if (> (rsi "UVIX" {:window 21}) 65)
                                          [(group "BSC"
                                            [(if (> (rsi "SPY" {:window 21}) 30)
                                                [(asset "VIXM" "ProShares VIX Mid-Term Futures ETF")]
                                                [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")])])]
                                          [(group "Combined Pop Bot"
                                            [(if (< (rsi "TQQQ" {:window 10}) 30)
                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                [(if (< (rsi "SOXL" {:window 10}) 30)
                                                  [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                                  [(if (< (rsi "SPXL" {:window 10}) 30)
                                                    [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                                    [(group "Copypasta YOLO GainZs Here"
                                                      [(group "KMLM switcher: TECL, SVIX, or L/S Rotator | BT 4/13/22 = AR 164% / DD 22.2%"
                                                          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                              [(filter (rsi {:window 11}) (select-top 1)
                                                                [(asset "FNGO" "MicroSectors FANG+ Index 2X Leveraged ETNs")
                                                                  (asset "TSLA" "Tesla, Inc.")
                                                                  (asset "MSFT" "Microsoft Corporation")
                                                                  (asset "AAPL" "Apple Inc.")
                                                                  (asset "NVDA" "NVIDIA Corporation")
                                                                  (asset "GOOGL" "Alphabet Inc. Class A")
                                                                  (asset "AMZN" "Amazon.com, Inc.")])]
                                                              [(group "Long/Short Rotator with FTLS KMLM SSO UUP | BT 12/10/20 | 15.1/3.5  "
                                                                [(filter (stdev-return {:window 6}) (select-bottom 1)
                                                                    [(asset "UUP" "Invesco DB US Dollar Index Bullish Fund")
                                                                      (asset "FTLS" "First Trust Long/Short Equity ETF")
                                                                      (asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")])])])])])])])])])])])])])])])])])])])])])])])])
      (group "830/21 (39) MonkeyBusiness Simons variant V2"
        [(group "KMLM switcher | Simon Shorts Ed. + MbM | (single pops)| BT 4/13/22 "
            [(if (> (rsi "QQQE" {:window 10}) 79)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "VTV" {:window 10}) 79)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(if (> (rsi "VOX" {:window 10}) 79)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(if (> (rsi "TECL" {:window 10}) 79)
                      [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                      [(if (> (rsi "VOOG" {:window 10}) 79)
                        [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                        [(if (> (rsi "VOOV" {:window 10}) 79)
                          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                          [(if (> (rsi "XLP" {:window 10}) 75)
                            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                            [(if (> (rsi "TQQQ" {:window 10}) 79)
                              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                              [(if (> (rsi "XLY" {:window 10}) 80)
                                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                [(if (> (rsi "FAS" {:window 10}) 80)
                                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                  [(if (> (rsi "SPY" {:window 10}) 80)
                                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                                    [(group "Single Popped KMLM"
                                      [(if (> (rsi "UVXY" {:window 21}) 65)
                                          [(group "BSC"
                                            [(if (> (rsi "SPY" {:window 21}) 30)
                                                [(asset "VIXM" "ProShares VIX Mid-Term Futures ETF")]
                                                [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")])])]
                                          [(group "Combined Pop Bot"
                                            [(if (< (rsi "TQQQ" {:window 10}) 30)
                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")]
                                                [(if (< (rsi "SOXL" {:window 10}) 30)
                                                  [(asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")]
                                                  [(if (< (rsi "SPXL" {:window 10}) 30)
                                                    [(asset "SPXL" "Direxion Daily S&P 500 Bull 3x Shares")]
                                                    [(group "Copypasta YOLO GainZs Here"
                                                      [(group "KMLM switcher: TECL, SVIX, or L/S Rotator | BT 4/13/22 = AR 164% / DD 22.2%"
                                                          [(if (> (rsi "XLK" {:window 10}) (rsi "KMLM" {:window 10}))
                                                              [(filter (rsi {:window 10}) (select-top 1)
                                                                [(asset "TECL" "Direxion Daily Technology Bull 3x Shares")
                                                                  (asset "SOXL" "Direxion Daily Semiconductor Bull 3x Shares")
                                                                  (asset "SVIX" "-1x Short VIX Futures ETF")])]
                                                              [(group "Bond Check --> Shorts, Bonds, KMLM, SPLV"
                                                                [(if (> (moving-average-return "BND" {:window 20}) 0)
                                                                    [(filter (rsi {:window 10}) (select-bottom 1)
                                                                      [(asset "KMLM" "KFA Mount Lucas Managed Futures Index Strategy ETF")
                                                                        (asset "SPLV" "Invesco S&P 500 Low Volatility ETF")])]
                                                                    [(filter (rsi {:window 10}) (select-top 1)
                                                                      [(asset "TLT" "iShares 20+ Year Treasury Bond ETF")
                                                                        (asset "LABD" "Direxion Daily S&P Biotech Bear 3X Shares")
                                                                        (asset "TZA" "Direxion Daily Small Cap Bear 3x Shares")])])])])])])])])])])])])])])])])])])])])])])])])])]))
