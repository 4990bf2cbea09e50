;; Built-in 'nuclear': the same decision tree as the published Composer export "Nuclear Energy with Feaver Frontrunner V5 | BT 2022-03-24",
;; rewritten without the export's single-child weight-equal wrappers (alchemiser fmt).
(defsymphony
  "Nuclear Energy with Feaver Frontrunner V5 | BT 2022-03-24"
  {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (group "Nuclear Energy with Feaver Frontrunner V5 | BT 2022-03-24"
    [(if (> (rsi "SPY" {:window 10}) 79)
        [(if (> (rsi "SPY" {:window 10}) 81)
          [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
          [(if (> (rsi "IOO" {:window 10}) 81)
            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
            [(if (> (rsi "TQQQ" {:window 10}) 81)
              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
              [(if (> (rsi "VTV" {:window 10}) 81)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "XLF" {:window 10}) 81)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(group "UVXY 75|25 BTAL"
                    [(weight-specified
                        0.75
                        (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                        0.25
                        (asset "BTAL" "AGF U.S. Market Neutral Anti-Beta Fund"))])])])])])])]
        [(if (> (rsi "IOO" {:window 10}) 79)
          [(if (> (rsi "IOO" {:window 10}) 81)
            [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
            [(if (> (rsi "TQQQ" {:window 10}) 81)
              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
              [(if (> (rsi "VTV" {:window 10}) 81)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "XLF" {:window 10}) 81)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(group "UVXY 75|25 BTAL"
                    [(weight-specified
                        0.75
                        (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                        0.25
                        (asset "BTAL" "AGF U.S. Market Neutral Anti-Beta Fund"))])])])])])]
          [(if (> (rsi "TQQQ" {:window 10}) 79)
            [(if (> (rsi "TQQQ" {:window 10}) 81)
              [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
              [(if (> (rsi "VTV" {:window 10}) 81)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "XLF" {:window 10}) 81)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(group "UVXY 75|25 BTAL"
                    [(weight-specified
                        0.75
                        (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                        0.25
                        (asset "BTAL" "AGF U.S. Market Neutral Anti-Beta Fund"))])])])])]
            [(if (> (rsi "VTV" {:window 10}) 79)
              [(if (> (rsi "VTV" {:window 10}) 81)
                [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                [(if (> (rsi "XLF" {:window 10}) 81)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(group "UVXY 75|25 BTAL"
                    [(weight-specified
                        0.75
                        (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                        0.25
                        (asset "BTAL" "AGF U.S. Market Neutral Anti-Beta Fund"))])])])]
              [(if (> (rsi "XLF" {:window 10}) 79)
                [(if (> (rsi "XLF" {:window 10}) 81)
                  [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                  [(group "UVXY 75|25 BTAL"
                    [(weight-specified
                        0.75
                        (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                        0.25
                        (asset "BTAL" "AGF U.S. Market Neutral Anti-Beta Fund"))])])]
                [(if (> (rsi "VOX" {:window 10}) 79)
                  [(if (> (rsi "XLF" {:window 10}) 81)
                    [(asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")]
                    [(group "UVXY 75|25 BTAL"
                      [(weight-specified
                          0.75
                          (asset "UVXY" "ProShares Ultra VIX Short-Term Futures ETF")
                          0.25
                          (asset "BTAL" "AGF U.S. Market Neutral Anti-Beta Fund"))])])]
                  [(if (< (rsi "TQQQ" {:window 10}) 30)
                    [(asset "TQQQ" "ProShares UltraPro QQQ")]
                    [(if (< (rsi "SPY" {:window 10}) 30)
                      [(asset "UPRO" "ProShares UltraPro S&P500")]
                      [(if (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))
                        [(group "Bull"
                          [(group "Nuclear Energy Portfolio"
                              [(filter (moving-average-return {:window 90}) (select-top 3)
                                  [(asset "SMR" nil)
                                    (asset "BWXT" nil)
                                    (asset "LEU" nil)
                                    (asset "EXC" nil)
                                    (asset "NLR" nil)
                                    (asset "OKLO" "Oklo Inc. Class A")])])])]
                        [(group "Bear"
                          [(weight-inverse-volatility 14
                              [(group "Bear 1"
                                  [(if (< (rsi "PSQ" {:window 10}) 35)
                                      [(asset "SQQQ" "ProShares UltraPro Short QQQ")]
                                      [(if (< (cumulative-return "QQQ" {:window 60}) -10)
                                        [(if (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                          [(asset "TQQQ" "ProShares UltraPro QQQ")]
                                          [(asset "PSQ" "ProShares Short QQQ")])]
                                        [(if (> (current-price "TQQQ") (moving-average-price "TQQQ" {:window 20}))
                                          [(if (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                            [(asset "TQQQ" "ProShares UltraPro QQQ")]
                                            [(asset "SQQQ" "ProShares UltraPro Short QQQ")])]
                                          [(if (> (rsi "IEF" {:window 10}) (rsi "PSQ" {:window 20}))
                                            [(asset "SQQQ" "ProShares UltraPro Short QQQ")]
                                            [(if (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                              [(asset "QQQ" "Invesco QQQ Trust Series I")]
                                              [(asset "SQQQ" "ProShares UltraPro Short QQQ")])])])])])])
                                (group "Bear 2"
                                  [(if (< (rsi "PSQ" {:window 10}) 35)
                                      [(asset "SQQQ" "ProShares UltraPro Short QQQ")]
                                      [(if (> (current-price "TQQQ") (moving-average-price "TQQQ" {:window 20}))
                                        [(if (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                          [(asset "TQQQ" "ProShares UltraPro QQQ")]
                                          [(asset "SQQQ" "ProShares UltraPro Short QQQ")])]
                                        [(if (> (rsi "TLT" {:window 20}) (rsi "PSQ" {:window 20}))
                                          [(asset "QQQ" "Invesco QQQ Trust Series I")]
                                          [(asset "SQQQ" "ProShares UltraPro Short QQQ")])])])])])])])])])])])])])])])]))
